import type { FastifyReply } from "fastify";
import type { ProductChanges, ProductFields, ProductFilter, ProductRecord, ProductsRepository } from "./products-repository.js";
import { Decimal, formatMoney, parsePrice } from "../shared/money.js";
import { normalizeName, productNameViolations } from "../shared/names.js";
import { decodeCursor, encodeCursor, parseOrdering } from "./cursor.js";
import { invalidFields, notFound, rejectIfAny, type FieldError } from "../errors/app-error.js";
import { expectedVersion, notModified, pageETag, productETag } from "./conditional.js";
import { cursorLinks, pageLinks, pageRequest, sentInQuery, type PageLinks } from "../infra/http/pagination.js";
import type { HandlersFor, OperationRequest, QueryOf, RequestBody, Wire } from "../infra/http/operation-types.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";

type ProductHandlers = HandlersFor<"listProducts" | "createProduct" | "getProduct" | "updateProduct" | "patchProduct" | "deleteProduct">;

/** Bodies of the rows that concurrent requests share (a coalesced read by id, a shared page), made once per row. */
const bodies = new WeakMap<ProductRecord, Wire<"Product">>();

export function toProductBody(product: ProductRecord): Wire<"Product"> {
  let body = bodies.get(product);
  if (body === undefined) {
    body = {
      id: product.id,
      name: product.name,
      price: formatMoney(product.price),
      stock: product.stock,
      created_at: product.createdAt.toISOString(),
      updated_at: product.updatedAt.toISOString(),
    };
    bodies.set(product, body);
  }
  return body;
}

interface PageAnswer {
  links: string;
  etag: string;
  results: Wire<"Product">[];
}

/** The tag and products of a page whose rows concurrent requests share, made once for the same links. */
const pageAnswers = new WeakMap<readonly ProductRecord[], PageAnswer>();

function pageAnswer(links: PageLinks, rows: readonly ProductRecord[]): PageAnswer {
  const linksKey = `${links.count} ${links.next} ${links.previous}`;
  const known = pageAnswers.get(rows);
  if (known?.links === linksKey) return known;
  const answer = { links: linksKey, etag: pageETag(links, rows), results: rows.map(toProductBody) };
  pageAnswers.set(rows, answer);
  return answer;
}

const productNotFound = (id: number) => notFound("Product", id);

/** Turns the accepted wire forms ("2.2" or 2.2, "100" or 100) into exact values. */
function readProductFields(body: RequestBody<"createProduct"> | RequestBody<"updateProduct"> | RequestBody<"patchProduct">): ProductChanges {
  const fields: ProductChanges = {};
  const errors: FieldError[] = [];
  if (body.name !== undefined) {
    fields.name = normalizeName(body.name);
    errors.push(...productNameViolations(fields.name.name));
  }
  if (body.price !== undefined) {
    fields.price = parsePrice(body.price);
    if (!fields.price) {
      errors.push({ field: ["price"], message: "must be a decimal of at most 10 digits with at most 3 after the point" });
    }
  }
  if (body.stock !== undefined) {
    const stock = Number(body.stock);
    if (Number.isSafeInteger(stock) && stock >= 0 && stock <= SPEC_LIMITS.maxStock) fields.stock = stock;
    else errors.push({ field: ["stock"], message: `must be an integer from 0 to ${SPEC_LIMITS.maxStock}` });
  }
  if ("stock_delta" in body && body.stock_delta !== undefined) {
    if (body.stock !== undefined) errors.push({ field: ["stock_delta"], message: "cannot be sent together with stock: send one or the other" });
    else fields.stockDelta = body.stock_delta;
  }
  rejectIfAny(errors);
  return fields;
}

/** The list's filter; `keywords` is the deprecated spelling of `keyword`. */
function readFilter(query: QueryOf<"listProducts">): ProductFilter {
  const { keyword, keywords, min_price, max_price } = query;
  if (keyword !== undefined && keywords !== undefined && keyword !== keywords) {
    throw invalidFields([
      {
        field: ["keywords"],
        source: "query",
        code: "conflicts-with-keyword",
        message: "is the old name of keyword: send one of them, or both with the same value",
      },
    ]);
  }
  const text = keyword ?? keywords;
  return {
    ...(text ? { keyword: text } : {}),
    ...(min_price !== undefined ? { minPrice: new Decimal(min_price) } : {}),
    ...(max_price !== undefined ? { maxPrice: new Decimal(max_price) } : {}),
  };
}

export function productHandlers(deps: { products: ProductsRepository }): ProductHandlers {
  const { products } = deps;

  async function change(request: OperationRequest<"updateProduct"> | OperationRequest<"patchProduct">, reply: FastifyReply) {
    const { id } = request.params;
    const updated = await products.update(id, readProductFields(request.body), expectedVersion(request.headers["if-match"], id));
    if (!updated) throw productNotFound(id);
    reply.header("etag", productETag(updated));
    return toProductBody(updated);
  }

  /** A page by offset with offset links (as the reference), or a cursor page with cursor links. */
  async function listPage(request: OperationRequest<"listProducts">) {
    const { limit, offset } = pageRequest(request.query);
    const { cursor } = request.query;
    const filter = readFilter(request.query);
    const ordering = parseOrdering(request.query.ordering);
    if (cursor === undefined) {
      const { count, rows } = await products.page(filter, ordering, limit, offset);
      return { links: pageLinks(request, count, limit, offset), rows };
    }
    if (cursor !== "" && sentInQuery(request, "offset")) {
      throw invalidFields([
        {
          field: ["offset"],
          source: "query",
          code: "offset-with-cursor",
          message: "cannot be sent with a cursor: a cursor already says where the page starts",
        },
      ]);
    }
    const start = cursor === "" ? { offset } : { cursor: decodeCursor(cursor, ordering, filter) };
    const page = await products.cursorPage(filter, ordering, start, limit);
    const encode = (c: typeof page.next) => (c ? encodeCursor(c) : null);
    return { links: cursorLinks(request, page.count, limit, encode(page.next), encode(page.previous)), rows: page.rows };
  }

  return {
    async listProducts(request, reply) {
      const { links, rows } = await listPage(request);
      const { etag, results } = pageAnswer(links, rows);
      if (notModified(reply, request.headers["if-none-match"], etag)) return reply.code(304).send();
      return { ...links, results };
    },

    async createProduct(request, reply) {
      const fields = readProductFields(request.body) as Required<ProductFields>;
      const product = await products.create(fields);
      reply.code(201).header("location", `/api/product/${product.id}`);
      return toProductBody(product);
    },

    async getProduct(request, reply) {
      const product = await products.findById(request.params.id);
      if (!product) throw productNotFound(request.params.id);
      if (notModified(reply, request.headers["if-none-match"], productETag(product))) return reply.code(304).send();
      return toProductBody(product);
    },

    updateProduct: change,
    patchProduct: change,

    async deleteProduct(request, reply) {
      const { id } = request.params;
      if (!(await products.delete(id, expectedVersion(request.headers["if-match"], id)))) throw productNotFound(id);
      reply.code(204);
    },
  };
}
