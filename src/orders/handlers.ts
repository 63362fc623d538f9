import { assertDistinctProducts, requestHash, type OrderRecord, type OrdersRepository, type PlacedOrder } from "./orders-repository.js";
import { formatMoney } from "../shared/money.js";
import { AppError, notFound, orderAlreadyCancelled } from "../errors/app-error.js";
import { assertOwnerOrAdmin } from "../accounts/index.js";
import { pageLinks, pageRequest } from "../infra/http/pagination.js";
import type { HandlersFor, Wire } from "../infra/http/operation-types.js";
import type { OrderEventCounters } from "../platform/service-metrics.js";

export function toOrderBody(order: OrderRecord): Wire<"Order"> {
  return {
    id: order.id,
    status: order.status === "cancelled" ? "cancelled" : "created",
    created_at: order.createdAt.toISOString(),
    cancelled_at: order.cancelledAt?.toISOString() ?? null,
    items: order.items.map((item) => ({
      product_id: item.productId,
      name: item.productName,
      quantity: item.quantity,
      unit_price: formatMoney(item.unitPrice),
      line_total: formatMoney(item.lineTotal),
    })),
    total: formatMoney(order.total),
  };
}

const orderNotFound = (id: number) => notFound("Order", id);

export function orderHandlers(deps: {
  orders: OrdersRepository;
  events?: OrderEventCounters;
}): HandlersFor<"createOrder" | "listOrders" | "getOrder" | "cancelOrder"> {
  const { orders, events } = deps;
  return {
    async createOrder(request, reply) {
      const key = request.headers["idempotency-key"];
      const lines = request.body.products;
      let result: PlacedOrder;
      try {
        assertDistinctProducts(lines);
        // A replay answers exactly what the first request was answered, so the wire form is what is kept.
        const idempotency = key ? { key, requestHash: requestHash(lines), answerFor: toOrderBody } : undefined;
        result = await orders.place(request.principal.id, lines, idempotency);
      } catch (error) {
        if (error instanceof AppError) events?.declined(error.code);
        throw error;
      }
      const body = result.replayed ? (result.answer as Wire<"Order">) : toOrderBody(result.order);
      if (result.replayed) reply.header("idempotent-replayed", "true");
      else events?.placed(result);
      reply.code(201).header("location", `/api/order/${body.id}`);
      return body;
    },

    async listOrders(request) {
      const { limit, offset } = pageRequest(request.query);
      const { count, rows } = await orders.page(request.principal.id, limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows.map(toOrderBody) };
    },

    async getOrder(request) {
      const { id } = request.params;
      const order = await orders.find(id);
      if (!order) throw orderNotFound(id);
      assertOwnerOrAdmin(request.principal, order.userId, () => orderNotFound(id));
      return toOrderBody(order);
    },

    async cancelOrder(request) {
      const { id } = request.params;
      // Someone else's order is hidden (404) as for reading it; the owner check is part of the cancel itself.
      const result = await orders.cancel(id, request.principal.isAdmin ? undefined : request.principal.id);
      if (result.outcome === "not-found") throw orderNotFound(id);
      if (result.outcome === "already-cancelled") throw orderAlreadyCancelled(id, result.order.cancelledAt);
      events?.cancelled(result);
      return toOrderBody(result.order);
    },
  };
}
