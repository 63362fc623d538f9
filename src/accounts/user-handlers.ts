import type { TokenService } from "./tokens.js";
import type { UserChanges, UserRecord, UsersRepository } from "./users-repository.js";
import { hashPassword, passwordRuleViolations, verifyPassword } from "./passwords.js";
import { normalizeName, userNameViolations } from "../shared/names.js";
import { forbidden, notFound, rejectIfAny, type FieldError } from "../errors/app-error.js";
import type { AuthLimits } from "./auth-limits.js";
import { assertOwnerOrAdmin, type Principals } from "./authentication.js";
import { pageLinks, pageRequest } from "../infra/http/pagination.js";
import type { HandlersFor, OperationRequest, Wire } from "../infra/http/operation-types.js";

type UserHandlers = HandlersFor<"registerUser" | "listUsers" | "getUser" | "updateUser" | "patchUser" | "deleteUser">;

export function toUserBody(user: UserRecord): Wire<"User"> {
  return {
    id: user.id,
    name: user.name,
    is_admin: user.isAdmin,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

const userNotFound = (id: string) => notFound("User", id);

export function userHandlers(deps: { users: UsersRepository; tokens: TokenService; limits: AuthLimits; principals: Principals }): UserHandlers {
  const { users, tokens, limits, principals } = deps;

  async function changeUser(request: OperationRequest<"updateUser">) {
    const { id } = request.params;
    const principal = request.principal;
    assertOwnerOrAdmin(principal, id, () => userNotFound(id));
    const body = request.body;
    if (body.is_admin !== undefined && !principal.isAdmin) throw forbidden("Only an admin may grant or revoke admin rights.");
    const current = await users.findById(id);
    if (!current) throw userNotFound(id);

    const changes: UserChanges = {};
    const errors: FieldError[] = [];
    if (body.name !== undefined) {
      changes.name = normalizeName(body.name);
      errors.push(...userNameViolations(changes.name.name));
    }
    if (body.password !== undefined) {
      errors.push(...passwordRuleViolations(body.password, changes.name?.name ?? current.name));
      if (principal.id === id) {
        const hash = await users.findPasswordHash(id);
        const confirmed = body.current_password !== undefined && hash !== null && (await verifyPassword(hash, body.current_password));
        if (!confirmed) errors.push({ field: ["current_password"], code: "incorrect", message: "must be your current password" });
      }
    }
    rejectIfAny(errors);
    if (body.password !== undefined) changes.passwordHash = await hashPassword(body.password);
    if (body.is_admin !== undefined) changes.isAdmin = body.is_admin;

    const updated = await users.update(id, changes);
    if (updated && changes.passwordHash) await tokens.revokeAllForUser(id);
    principals.forget(id); // name, admin rights and token cut-off are read again at once here
    if (!updated) throw userNotFound(id);
    return toUserBody(updated);
  }

  return {
    async registerUser(request, reply) {
      await limits.beforeRegister(request);
      const { name, key } = normalizeName(request.body.name);
      rejectIfAny([...userNameViolations(name), ...passwordRuleViolations(request.body.password, name)]);
      const user = await users.create({ name, key, passwordHash: await hashPassword(request.body.password) });
      reply.code(201).header("location", `/api/user/${user.id}`);
      return toUserBody(user);
    },

    async listUsers(request) {
      const { limit, offset } = pageRequest(request.query);
      const { count, rows } = await users.page(limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows.map(toUserBody) };
    },

    async getUser(request) {
      const { id } = request.params;
      assertOwnerOrAdmin(request.principal, id, () => userNotFound(id));
      const user = await users.findById(id);
      if (!user) throw userNotFound(id);
      return toUserBody(user);
    },

    updateUser: changeUser,
    patchUser: changeUser,

    async deleteUser(request, reply) {
      const { id } = request.params;
      assertOwnerOrAdmin(request.principal, id, () => userNotFound(id));
      const deleted = await users.delete(id);
      principals.forget(id); // its tokens are refused here at once, elsewhere within PRINCIPAL_TTL_MS
      if (!deleted) throw userNotFound(id);
      reply.code(204);
    },
  };
}
