import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import { Problem } from "../http/problem.js";

export interface UserRecord {
  id: string;
  name: string;
  isAdmin: boolean;
  /** Access tokens issued before this are refused (logout, password change). */
  tokensValidAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserChanges {
  name?: { name: string; key: string };
  passwordHash?: string;
  isAdmin?: boolean;
}

const publicFields = { id: true, name: true, isAdmin: true, tokensValidAfter: true, createdAt: true, updatedAt: true } as const;

export class UsersRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(input: { name: string; key: string; passwordHash: string; isAdmin?: boolean }): Promise<UserRecord> {
    try {
      return await this.db.user.create({
        data: { name: input.name, nameKey: input.key, passwordHash: input.passwordHash, isAdmin: input.isAdmin ?? false },
        select: publicFields,
      });
    } catch (error) {
      throw nameTakenOr(error, input.name);
    }
  }

  /** Creates the account unless one with that name exists; true when it was created. */
  async createIfMissing(input: { name: string; key: string; passwordHash: string; isAdmin: boolean }): Promise<boolean> {
    const created = await this.db.user.createMany({
      data: [{ name: input.name, nameKey: input.key, passwordHash: input.passwordHash, isAdmin: input.isAdmin }],
      skipDuplicates: true,
    });
    return created.count === 1;
  }

  findById(id: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { id }, select: publicFields });
  }

  findCredentials(key: string): Promise<{ id: string; passwordHash: string; tokensValidAfter: Date | null } | null> {
    return this.db.user.findUnique({ where: { nameKey: key }, select: { id: true, passwordHash: true, tokensValidAfter: true } });
  }

  findPasswordHash(id: string): Promise<string | null> {
    return this.db.user
      .findUnique({ where: { id }, select: { passwordHash: true } })
      .then((row) => row?.passwordHash ?? null);
  }

  async page(limit: number, offset: number): Promise<{ count: number; rows: UserRecord[] }> {
    const [count, rows] = await Promise.all([
      this.db.user.count(),
      this.db.user.findMany({ select: publicFields, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take: limit, skip: offset }),
    ]);
    return { count, rows };
  }

  async update(id: string, changes: UserChanges): Promise<UserRecord | null> {
    try {
      return await this.db.user.update({
        where: { id },
        data: {
          ...(changes.name ? { name: changes.name.name, nameKey: changes.name.key } : {}),
          ...(changes.passwordHash ? { passwordHash: changes.passwordHash } : {}),
          ...(changes.isAdmin !== undefined ? { isAdmin: changes.isAdmin } : {}),
        },
        select: publicFields,
      });
    } catch (error) {
      if (isRecordMissing(error)) return null;
      throw nameTakenOr(error, changes.name?.name ?? "");
    }
  }

  /** Deletes the account; its orders stay, detached (orders.user_id is set to null). */
  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.user.deleteMany({ where: { id } });
    return count === 1;
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

export function isRecordMissing(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025";
}

function nameTakenOr(error: unknown, name: string): unknown {
  if (!isUniqueViolation(error)) return error;
  return new Problem("name-taken", `The name "${name}" is already taken.`, {
    errors: [{ path: "/body/name", code: "taken", message: "is already taken" }],
  });
}
