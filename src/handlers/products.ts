import type { ProductFields, ProductRecord, ProductsRepository } from "../domain/products.js";
import { Decimal, formatMoney, parsePrice } from "../domain/money.js";
import { textViolations } from "../domain/text.js";
import { Problem, rejectIfAny, type ProblemFieldError } from "../http/problem.js";
import { DEFAULT_PAGE_SIZE, pageLinks } from "../http/pagination.js";
import type { HandlersFor } from "../http/operation-types.js";

type ProductHandlers = HandlersFor<"listProducts" | "createProduct" | "getProduct" | "updateProduct" | "patchProduct" | "deleteProduct">;

const MAX_STOCK = 2_147_483_647;
const PRODUCT_NAME_MAX_LENGTH = 200;

export function toProductBody(product: ProductRecord) {
  return {
    id: product.id,
    name: product.name,
    price: formatMoney(product.price),
    stock: product.stock,
    created_at: product.createdAt.toISOString(),
    updated_at: product.updatedAt.toISOString(),
  };
}

const productNotFound = (id: number) => new Problem("not-found", `Product ${id} does not exist.`);

interface ProductBody {
  name?: string;
  price?: string | number;
  stock?: string | number;
}

/** Turns the accepted wire forms ("2.2" or 2.2, "100" or 100) into exact values. */
function readProductFields(body: ProductBody): ProductFields {
  const fields: ProductFields = {};
  const errors: ProblemFieldError[] = [];
  if (body.name !== undefined) {
    fields.name = body.name.trim();
    errors.push(...textViolations(fields.name, PRODUCT_NAME_MAX_LENGTH, "/body/name"));
  }
  if (body.price !== undefined) {
    fields.price = parsePrice(body.price);
    if (!fields.price) {
      errors.push({ path: "/body/price", message: "must be a decimal of at most 10 digits with at most 3 after the point" });
    }
  }
  if (body.stock !== undefined) {
    const stock = Number(body.stock);
    if (Number.isSafeInteger(stock) && stock >= 0 && stock <= MAX_STOCK) fields.stock = stock;
    else errors.push({ path: "/body/stock", message: `must be an integer from 0 to ${MAX_STOCK}` });
  }
  rejectIfAny(errors);
  return fields;
}

export function productHandlers(deps: { products: ProductsRepository }): ProductHandlers {
  const { products } = deps;

  async function change(request: { params: { id: number }; body: ProductBody }) {
    const updated = await products.update(request.params.id, readProductFields(request.body));
    if (!updated) throw productNotFound(request.params.id);
    return toProductBody(updated);
  }

  return {
    async listProducts(request) {
      const { limit = DEFAULT_PAGE_SIZE, offset = 0, keyword, max_price } = request.query;
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
