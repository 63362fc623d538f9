import type { ProductFields, ProductRecord, ProductsRepository } from "../domain/products.js";
import { Decimal, formatMoney, parsePrice } from "../domain/money.js";
import { normalizeName, productNameViolations } from "../domain/names.js";
import { notFound, rejectIfAny, type FieldError } from "../errors/app-error.js";
import { pageLinks, pageRequest } from "../http/pagination.js";
import type { HandlersFor, OperationRequest, RequestBody, Wire } from "../http/operation-types.js";
import { SPEC_LIMITS } from "../spec-limits.js";

type ProductHandlers = HandlersFor<"listProducts" | "createProduct" | "getProduct" | "updateProduct" | "patchProduct" | "deleteProduct">;

export function toProductBody(product: ProductRecord): Wire<"Product"> {
  return {
    id: product.id,
    name: product.name,
    price: formatMoney(product.price),
    stock: product.stock,
    created_at: product.createdAt.toISOString(),
    updated_at: product.updatedAt.toISOString(),
  };
}

const productNotFound = (id: number) => notFound("Product", id);

/** Turns the accepted wire forms ("2.2" or 2.2, "100" or 100) into exact values. */
function readProductFields(body: RequestBody<"createProduct"> | RequestBody<"patchProduct">): ProductFields {
  const fields: ProductFields = {};
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
  rejectIfAny(errors);
  return fields;
}

export function productHandlers(deps: { products: ProductsRepository }): ProductHandlers {
  const { products } = deps;

  async function change(request: OperationRequest<"updateProduct"> | OperationRequest<"patchProduct">) {
    const updated = await products.update(request.params.id, readProductFields(request.body));
    if (!updated) throw productNotFound(request.params.id);
    return toProductBody(updated);
  }

  return {
    async listProducts(request) {
      const { limit, offset } = pageRequest(request.query);
      const { keyword, max_price } = request.query;
      const filter = {
        ...(keyword ? { keyword } : {}),
        ...(max_price !== undefined ? { maxPrice: new Decimal(max_price) } : {}),
      };
      const { count, rows } = await products.page(filter, limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows.map(toProductBody) };
    },

    async createProduct(request, reply) {
      const fields = readProductFields(request.body) as Required<ProductFields>;
      const product = await products.create(fields);
      reply.code(201).header("location", `/api/product/${product.id}`);
      return toProductBody(product);
    },

    async getProduct(request) {
      const product = await products.findById(request.params.id);
      if (!product) throw productNotFound(request.params.id);
      return toProductBody(product);
    },

    updateProduct: change,
    patchProduct: change,

    async deleteProduct(request, reply) {
      if (!(await products.delete(request.params.id))) throw productNotFound(request.params.id);
      reply.code(204);
    },
  };
}
