import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import { Webhook } from "standardwebhooks";

/** Signers by secret: a secret's key is decoded once, not at every delivery. */
const signers = new LRUCache<string, Webhook>({ max: 1_000 });

function signerFor(secret: string): Webhook {
  let signer = signers.get(secret);
  if (!signer) {
    signer = new Webhook(secret);
    signers.set(secret, signer);
  }
  return signer;
}

/** A new endpoint secret in the Standard Webhooks form: `whsec_` and 24 random bytes in base64. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export interface SigningSecrets {
  secret: string;
  /** The secret before the last rotation, still signed with until `previousExpiresAt`. */
  previous?: string | null;
  previousExpiresAt?: Date | null;
}

/**
 * The Standard Webhooks headers of one attempt: webhook-id (the event's id, the same on every
 * retry), webhook-timestamp (this attempt's time) and webhook-signature, a `v1,` signature per
 * secret in use (two during a rotation's overlap), separated by spaces.
 */
export function signedHeaders(eventId: string, body: string, secrets: SigningSecrets, now = new Date()): Record<string, string> {
  const keys = [secrets.secret];
  if (secrets.previous && secrets.previousExpiresAt && secrets.previousExpiresAt > now) keys.push(secrets.previous);
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": keys.map((key) => signerFor(key).sign(eventId, now, body)).join(" "),
  };
}
