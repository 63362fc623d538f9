import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";
import { Problem } from "../http/problem.js";
import { isRecordMissing, isUniqueViolation } from "./users.js";

export interface ProductRecord {
  id: number;
  name: string;
  price: Prisma.Decimal;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProductFilter {
  keyword?: string;
  maxPrice?: Prisma.Decimal;
}

export interface ProductFields {
  name?: string;
  price?: Prisma.Decimal;
  stock?: number;
}

const fields = { id: true, name: true, price: true, stock: true, createdAt: true, updatedAt: true } as const;

function escapeLikePattern(text: string): string {
  return text.replace(/[\\%_]/g, "\\$&");
}

export function productNameKey(name: string): string {
  return name.trim().toLowerCase();
}

export class ProductsRepository {
  constructor(private readonly db: PrismaClient) {}

  /** A page in id order, so consecutive pages never repeat or skip a product. */
  async page(filter: ProductFilter, limit: number, offset: number): Promise<{ count: number; rows: ProductRecord[] }> {
    const where: Prisma.ProductWhereInput = {
      // ILIKE '%keyword%': served by the trigram GIN index on products.name. Prisma does not
      // escape LIKE wildcards, so a keyword's % and _ are escaped here to match literally.
      ...(filter.keyword ? { name: { contains: escapeLikePattern(filter.keyword), mode: "insensitive" } } : {}),
      ...(filter.maxPrice ? { price: { lte: filter.maxPrice } } : {}),
    };
    const [count, rows] = await Promise.all([
      this.db.product.count({ where }),
      limit === 0 ? [] : this.db.product.findMany({ where, select: fields, orderBy: { id: "asc" }, take: limit, skip: offset }),
    ]);
    return { count, rows };
  }

  findById(id: number): Promise<ProductRecord | null> {
    return this.db.product.findUnique({ where: { id }, select: fields });
  }

  async create(input: Required<ProductFields>): Promise<ProductRecord> {
    try {
      return await this.db.product.create({
        data: { name: input.name, nameKey: productNameKey(input.name), price: input.price, stock: input.stock },
        select: fields,
      });
    } catch (error) {
      throw nameTakenOr(error, input.name);
    }
  }

  async update(id: number, changes: ProductFields): Promise<ProductRecord | null> {
    try {
      return await this.db.product.update({
        where: { id },
        data: {
          ...(changes.name !== undefined ? { name: changes.name, nameKey: productNameKey(changes.name) } : {}),
          ...(changes.price !== undefined ? { price: changes.price } : {}),
          ...(changes.stock !== undefined ? { stock: changes.stock } : {}),
        },
        select: fields,
      });
    } catch (error) {
      if (isRecordMissing(error)) return null;
      throw nameTakenOr(error, changes.name ?? "");
    }
  }

  /** Removes the product; order lines keep its name and price (order_items.product_id becomes null). */
  async delete(id: number): Promise<boolean> {
    const { count } = await this.db.product.deleteMany({ where: { id } });
    return count === 1;
  }
}

function nameTakenOr(error: unknown, name: string): unknown {
  if (!isUniqueViolation(error)) return error;
  return new Problem("name-taken", `A product named "${name}" already exists.`, {
    errors: [{ path: "/body/name", code: "taken", message: "product with this name already exists" }],
  });
}
