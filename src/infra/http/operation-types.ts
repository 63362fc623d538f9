import type { FastifyReply, FastifyRequest } from "fastify";
import type { components, operations } from "../../../generated/openapi.js";

export type OperationId = keyof operations;

/** A schema of openapi.yaml as it travels on the wire: what a handler's mapping returns. */
export type Wire<K extends keyof components["schemas"]> = components["schemas"][K];

type JsonOf<T> = T extends { content: { "application/json": infer Body } } ? Body : never;
type ContentOf<T> = T extends { content: infer C } ? C[keyof C] : never;
type Parameters<K extends OperationId> = operations[K]["parameters"];
type Defined<T> = [T] extends [undefined | never] ? unknown : NonNullable<T>;

export type RequestBody<K extends OperationId> = operations[K] extends { requestBody: infer R } ? JsonOf<NonNullable<R>> : unknown;
export type QueryOf<K extends OperationId> = Defined<Parameters<K>["query"]>;
export type ParamsOf<K extends OperationId> = Defined<Parameters<K>["path"]>;
export type HeadersOf<K extends OperationId> = Defined<Parameters<K>["header"]>;

type Responses<K extends OperationId> = operations[K]["responses"];
/**
 * The body of the operation's 2xx answer, or void when it has none; an operation that may answer
 * 304 returns the reply it sent (`return reply.code(304).send()`).
 */
export type SuccessBody<K extends OperationId> = {
  [S in keyof Responses<K>]: S extends 200 | 201 | 202 ? ContentOf<Responses<K>[S]> : S extends 204 ? void : S extends 304 ? FastifyReply : never;
}[keyof Responses<K>];

export type OperationRequest<K extends OperationId> = FastifyRequest<{
  Body: RequestBody<K>;
  Querystring: QueryOf<K>;
  Params: ParamsOf<K>;
  Headers: HeadersOf<K>;
}>;

/** A handler for one operation of openapi.yaml, typed from the generated types. */
export type OperationHandler<K extends OperationId> = (request: OperationRequest<K>, reply: FastifyReply) => Promise<SuccessBody<K>>;

/** Every operation of the spec mapped to its handler: a missing handler is a compile error. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<K> };
export type HandlersFor<K extends OperationId> = { [P in K]: OperationHandler<P> };
