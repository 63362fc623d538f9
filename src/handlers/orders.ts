import type { CancelledOrder, OrdersRepository, PlacedOrder } from "../domain/orders.js";
import { requestHash } from "../domain/orders.js";
import { Problem } from "../http/problem.js";
import { DEFAULT_PAGE_SIZE, pageLinks } from "../http/pagination.js";
import type { HandlersFor } from "../http/operation-types.js";

export interface OrderEvents {
  placed(result: PlacedOrder): void;
  declined(reason: string): void;
  cancelled(result: CancelledOrder): void;
}

export function orderHandlers(deps: { orders: OrdersRepository; events?: OrderEvents }): HandlersFor<"createOrder" | "listOrders" | "getOrder" | "cancelOrder"> {
  const { orders, events } = deps;
  return {
    async createOrder(request, reply) {
      const key = request.headers["idempotency-key"];
      const lines = request.body.products;
      let result: PlacedOrder;
      try {
        result = await orders.place(request.principal.id, lines, key ? { key, requestHash: requestHash(lines) } : undefined);
      } catch (error) {
        if (error instanceof Problem) events?.declined(error.kind);
        throw error;
      }
      if (!result.replayed) events?.placed(result);
      if (result.replayed) reply.header("idempotent-replayed", "true");
      reply.code(201).header("location", `/api/order/${result.order.id}`);
      return result.order;
    },

    async listOrders(request) {
      const { limit = DEFAULT_PAGE_SIZE, offset = 0 } = request.query;
      const { count, rows } = await orders.page(request.principal.id, limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows };
    },

    async getOrder(request) {
      const { id } = request.params;
      const order = await orders.find(id, request.principal.isAdmin ? undefined : request.principal.id);
      if (!order) throw new Problem("not-found", `Order ${id} does not exist.`);
      return order;
    },

    async cancelOrder(request) {
      const result = await orders.cancel(request.params.id, request.principal.isAdmin ? undefined : request.principal.id);
      events?.cancelled(result);
      return result.order;
    },
  };
}
