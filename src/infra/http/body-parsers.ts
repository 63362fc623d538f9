import { errorCodes, type FastifyInstance, type FastifyRequest } from "fastify";

/**
 * Media types the spec names only for answers: refused by name as bodies, which also tells
 * fastify-openapi-glue (it warns about media types without a parser) that they were considered.
 */
const RESPONSE_ONLY_TYPES = ["text/plain", "application/yaml", "application/problem+json"];

/** The operation has no requestBody in the spec, so its route has no body schema. */
const takesNoBody = (request: FastifyRequest) => request.routeOptions.schema?.body === undefined;

/**
 * Only JSON bodies: anything else is a 415 problem, not a string that fails validation. An
 * operation without a request body (cancel, deletes) ignores the Content-Type of an empty body,
 * whatever its clients send with it: axios's `post(url)` says form-urlencoded, generated fetch
 * clients say JSON, Python's requests says nothing.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  const refuseUnlessEmpty = (request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => {
    if (body.length === 0 && takesNoBody(request)) done(null, undefined);
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers["content-type"]), undefined);
  };
  app.removeContentTypeParser(["text/plain", "application/json"]);
  app.addContentTypeParser(["*", ...RESPONSE_ONLY_TYPES], { parseAs: "buffer" }, refuseUnlessEmpty);
  const json = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body.length === 0 && takesNoBody(request)) done(null, undefined);
    else json(request, body as string, done);
  });
}
