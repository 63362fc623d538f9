import { availableParallelism } from "node:os";
import argon2 from "argon2";
import { distance } from "fastest-levenshtein";
import pLimit from "p-limit";
import { dictionary } from "@zxcvbn-ts/language-common";
import type { FieldError, FieldPath } from "../errors/app-error.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";

/**
 * argon2id at one of the settings OWASP rates equally strong: 9 MiB, 4 iterations, 1 lane. Its
 * first one (19 MiB, 2 iterations) does about as many block operations but took about 15 % more
 * CPU per hash here, its larger block fitting the caches worse, and twice the memory per hash in
 * flight (docs/reference/performance.md, `npm run bench:hash`).
 * argon2 hashes on libuv's thread pool, so the event loop never waits for it.
 */
export const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 9 * 1024, timeCost: 4, parallelism: 1 } as const;

/**
 * Hashes at once: no more than the cores can run, and always fewer than libuv's thread pool
 * (4 threads unless UV_THREADPOOL_SIZE says otherwise). A burst of logins must not take every
 * thread: opening a PostgreSQL connection needs one too (SCRAM's PBKDF2), and would otherwise
 * queue behind every hash and time out (503s under a burst of registrations).
 */
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const hashing = pLimit(Math.max(1, Math.min(availableParallelism(), THREAD_POOL_SIZE - 2)));

const { passwordMinLength: PASSWORD_MIN_LENGTH, passwordMaxLength: PASSWORD_MAX_LENGTH } = SPEC_LIMITS;
const SIMILARITY_LIMIT = 0.7;

const commonPasswords = new Set(dictionary["passwords-common"] as string[]);

export function hashPassword(password: string): Promise<string> {
  return hashing(() => argon2.hash(password, HASH_OPTIONS));
}

/** Whether a stored hash was made with other settings than today's (a login then stores a new one). */
export function hashIsOutdated(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, HASH_OPTIONS);
  } catch {
    return false; // not an argon2 hash: verifying it fails anyway
  }
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await hashing(() => argon2.verify(hash, password));
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/** Spends the same time as a real check, so an unknown name cannot be told from a wrong password. */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword("dummy-password-for-timing-equality");
  await verifyPassword(await dummyHash, password);
  return false;
}

/** NIST SP 800-63B rules; one entry per rule the password breaks. */
export function passwordRuleViolations(password: string, name: string, field: FieldPath = ["password"]): FieldError[] {
  const violations: FieldError[] = [];
  const add = (code: string, message: string) => violations.push({ field, code, message });
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) add("too-short", `must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) add("too-long", `must be at most ${PASSWORD_MAX_LENGTH} characters`);
  if (/^\d+$/.test(password)) add("entirely-numeric", "must not be entirely numeric");
  if (isTooSimilar(password, name)) add("too-similar-to-name", "is too similar to the name");
  if (commonPasswords.has(password.toLowerCase())) add("too-common", "is too common");
  return violations;
}

function isTooSimilar(password: string, name: string): boolean {
  const a = password.toLowerCase();
  const b = name.trim().toLowerCase();
  if (b.length === 0) return false;
  if (b.length >= 3 && (a.includes(b) || b.includes(a))) return true;
  const longest = Math.max(a.length, b.length);
  return 1 - distance(a, b) / longest >= SIMILARITY_LIMIT;
}
