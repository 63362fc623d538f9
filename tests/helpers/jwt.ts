import { createHmac } from "node:crypto";

const base64url = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Builds a JWT by hand, for the attacks a real signer would refuse to produce. */
export function craftToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret?: string): string {
  const head = `${base64url(header)}.${base64url(payload)}`;
  if (!secret) return `${head}.`;
  const algorithm = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[String(header.alg)] ?? "sha256";
  return `${head}.${createHmac(algorithm, secret).update(head).digest("base64url")}`;
}

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
}
