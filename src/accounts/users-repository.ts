import type { PrismaClient } from "../../generated/prisma/client.js";
import { isRecordMissing, uniqueViolationAs } from "../infra/db/errors.js";
import { nameTaken } from "../errors/app-error.js";
import type { NormalizedName } from "../shared/names.js";

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
  name?: NormalizedName;
  passwordHash?: string;
  isAdmin?: boolean;
}

const publicFields = { id: true, name: true, isAdmin: true, tokensValidAfter: true, createdAt: true, updatedAt: true } as const;

export class UsersRepository {
  private readonly db: PrismaClient;

  constructor(db: PrismaClient) {
    this.db = db;
  }

  async create(input: { name: string; key: string; passwordHash: string; isAdmin?: boolean }): Promise<UserRecord> {
    try {
      return await this.db.user.create({
        data: { name: input.name, nameKey: input.key, passwordHash: input.passwordHash, isAdmin: input.isAdmin ?? false },
        select: publicFields,
      });
    } catch (error) {
      throw uniqueViolationAs(error, () => userNameTaken(input.name));
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
    return this.db.user.findUnique({ where: { id }, select: { passwordHash: true } }).then((row) => row?.passwordHash ?? null);
  }

  /**
   * Stores a new hash of the same password (made with today's settings), unless the password
   * changed meanwhile. Not a change to the user: `updated_at` stays, which Prisma's update would set.
   */
  async replacePasswordHash(id: string, current: string, next: string): Promise<void> {
    await this.db.$executeRaw`UPDATE users SET password_hash = ${next} WHERE id = ${id}::uuid AND password_hash = ${current}`;
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
      throw uniqueViolationAs(error, () => userNameTaken(changes.name?.name ?? ""));
    }
  }

  /** Deletes the account; its orders stay, detached (orders.user_id is set to null). */
  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.user.deleteMany({ where: { id } });
    return count === 1;
  }
}

const userNameTaken = (name: string) => nameTaken(`The name "${name}" is already taken.`, "is already taken");
