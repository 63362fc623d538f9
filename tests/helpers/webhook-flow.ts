// What the webhook process tests share: talking to a service process over HTTP and checking
// what a receiver got against the service's own event stream.
import { expect } from "vitest";
import { send } from "./http-client.js";
import type { Received } from "./webhook-receiver.js";

export async function call(baseUrl: string, method: string, path: string, token?: string, body?: unknown) {
  const answer = await send(baseUrl, { method, path, token, body });
  return answer;
}

export async function adminLogin(baseUrl: string): Promise<string> {
  const answer = await call(baseUrl, "POST", "/api/token/", undefined, { name: "admin", password: "12345" });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json().access;
}

/** Every event of these types in the service's stream. */
export async function streamEvents(baseUrl: string, token: string, types: string[]): Promise<{ id: string; type: string; data: { id: number } }[]> {
  const events = [];
  let path = `/api/event/?limit=1000&${types.map((t) => `type=${t}`).join("&")}`;
  for (;;) {
    const page = (await call(baseUrl, "GET", path, token)).json();
    events.push(...page.results);
    if (!page.has_more) return events;
    path = page.next.slice(page.next.indexOf("/api/"));
  }
}

/**
 * The stream once it lists `count` events: an event is listed once every older transaction on the
 * server has ended, usually within moments, but a test file holding one open on purpose on the same
 * server (event-order.postgres.test.ts) holds every database's stream back while it runs: up to 10 s.
 */
export async function streamEventsOnceListed(baseUrl: string, token: string, types: string[], count: number) {
  let events = await streamEvents(baseUrl, token, types);
  for (let i = 0; i < 500 && events.length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    events = await streamEvents(baseUrl, token, types);
  }
  expect(events).toHaveLength(count);
  return events;
}

/**
 * At least once, same id for duplicates, order per resource: every event was delivered (a 2xx)
 * at least once; every copy of an event carries the same body; for each resource, no event was
 * first sent before the one before it had been answered with a 2xx.
 */
export function expectDeliveredInOrder(events: { id: string; data: { id: number } }[], received: Received[]): void {
  const ok = (r: Received) => typeof r.answered === "number" && r.answered >= 200 && r.answered < 300;
  for (const event of events) {
    const copies = received.filter((r) => r.webhookId === event.id);
    expect(copies.some(ok), `event ${event.id} delivered`).toBe(true);
    expect(new Set(copies.map((c) => c.body)).size, `copies of ${event.id} are the same`).toBe(1);
  }
  const byResource = new Map<number, typeof events>();
  for (const event of events) byResource.set(event.data.id, [...(byResource.get(event.data.id) ?? []), event]);
  for (const list of byResource.values()) {
    for (let i = 1; i < list.length; i++) {
      const deliveredBefore = received.find((r) => r.webhookId === list[i - 1]!.id && ok(r))!;
      const firstSent = received.find((r) => r.webhookId === list[i]!.id)!;
      expect(firstSent.at, `${list[i]!.id} sent after ${list[i - 1]!.id} was delivered`).toBeGreaterThanOrEqual(deliveredBefore.at);
      expect(received.indexOf(firstSent)).toBeGreaterThan(received.indexOf(deliveredBefore));
    }
  }
}
