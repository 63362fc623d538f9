import { assertDistinctProducts, requestHash, type OrderRecord, type OrdersRepository, type PlacedOrder } from "./orders-repository.js";
import { formatMoney } from "../shared/money.js";
import {
  AppError,
  cancelledOrderNotFulfillable,
  fulfilledOrderNotCancellable,
  invalidFields,
  notFound,
  orderAlreadyCancelled,
  orderAlreadyFulfilled,
} from "../errors/app-error.js";
import { assertOwnerOrAdmin } from "../accounts/index.js";
import { cursorLinks, pageLinks, pageRequest, sentInQuery } from "../infra/http/pagination.js";
import { isBackOfficeList, readOrderFilter } from "./back-office-filter.js";
import { decodeOrderCursor, encodeOrderCursor, type OrderCursor } from "./cursor.js";
import type { HandlersFor, OperationRequest, Wire } from "../infra/http/operation-types.js";
import type { OrderEventCounters } from "../platform/service-metrics.js";

export function toOrderBody(order: OrderRecord): Wire<"Order"> {
  return {
    id: order.id,
    status: order.status === "cancelled" || order.status === "fulfilled" ? order.status : "created",
    created_at: order.createdAt.toISOString(),
    cancelled_at: order.cancelledAt?.toISOString() ?? null,
    fulfilled_at: order.fulfilledAt?.toISOString() ?? null,
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

/**
 * The answer an Idempotency-Key replays, as it was kept. Answers kept before orders had
 * `fulfilled_at` (or by a replica of that version during a rolling deploy) lack it; a new order
 * had none, so it is null.
 */
function replayedOrder(answer: unknown): Wire<"Order"> {
  const order = answer as Partial<Wire<"Order">>;
  return { ...order, fulfilled_at: order.fulfilled_at ?? null } as Wire<"Order">;
}

export function orderHandlers(deps: {
  orders: OrdersRepository;
  events?: OrderEventCounters;
}): HandlersFor<"createOrder" | "listOrders" | "getOrder" | "cancelOrder" | "fulfilOrder"> {
  const { orders, events } = deps;

  /** The back-office list: keyset pages newest first, with cursor links. */
  async function backOfficePage(request: OperationRequest<"listOrders">) {
    if (sentInQuery(request, "offset")) {
      throw invalidFields([
        {
          field: ["offset"],
          source: "query",
          code: "offset-with-cursor",
          message: "cannot be sent with user_id, status, created_after, created_before or cursor: follow the next and previous links instead",
        },
      ]);
    }
    const { limit } = pageRequest(request.query);
    const filter = readOrderFilter(request.query, request.principal);
    const { cursor } = request.query;
    const start = cursor ? decodeOrderCursor(cursor, filter) : undefined;
    const page = await orders.cursorPage(filter, start, limit);
    const encode = (c: OrderCursor | null) => (c ? encodeOrderCursor(c) : null);
    return { ...cursorLinks(request, page.count, limit, encode(page.next), encode(page.previous)), results: page.rows.map(toOrderBody) };
  }

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
      const body = result.replayed ? replayedOrder(result.answer) : toOrderBody(result.order);
      if (result.replayed) reply.header("idempotent-replayed", "true");
      else events?.placed(result);
      reply.code(201).header("location", `/api/order/${body.id}`);
      return body;
    },

    async listOrders(request) {
      if (isBackOfficeList(request.query)) return backOfficePage(request);
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
      if (result.outcome === "already-fulfilled") throw fulfilledOrderNotCancellable(id, result.order.fulfilledAt);
      events?.cancelled(result);
      return toOrderBody(result.order);
    },

    async fulfilOrder(request) {
      const { id } = request.params;
      const result = await orders.fulfil(id);
      if (result.outcome === "not-found") throw orderNotFound(id);
      if (result.outcome === "already-fulfilled") throw orderAlreadyFulfilled(id, result.order.fulfilledAt);
      if (result.outcome === "already-cancelled") throw cancelledOrderNotFulfillable(id, result.order.cancelledAt);
      return toOrderBody(result.order);
    },
  };
}
