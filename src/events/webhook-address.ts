import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/**
 * Where webhook requests may not go unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is set: every address
 * that is not a public unicast one (loopback, private, carrier-grade NAT, link-local with the cloud
 * metadata service, multicast, reserved, documentation, NAT64 IPv6). BlockList checks IPv4-mapped
 * IPv6 addresses (::ffff:127.0.0.1) against the IPv4 rules.
 */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, "ipv6");
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}

export class BlockedAddressError extends Error {}

/**
 * A `lookup` for http(s).request that resolves the name when the connection is made (so a
 * changed DNS answer is seen on every new connection) and refuses it unless every address it
 * resolves to is public: the connection then goes to an address that was checked, not to a
 * second answer an attacker's DNS gives after the check.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const blocked = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (blocked) return callback(new BlockedAddressError(`${hostname} resolves to ${blocked.address}, which is not a public address`), "", 0);
      if (addresses.length === 0) return callback(new Error(`${hostname} has no address`), "", 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Why an endpoint URL is refused when it is registered (null when accepted); its address is checked again at every delivery. */
export function urlRefusal(text: string, policy: { requireHttps: boolean; allowPrivate: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http or https URL";
  if (policy.requireHttps && url.protocol !== "https:") return "must be an https URL";
  if (url.username || url.password) return "must not carry a user name or password";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!policy.allowPrivate && (isIP(host) ? !isPublicAddress(host) : /(^|\.)localhost\.?$/i.test(host))) {
    return "must not point to a loopback, private or link-local address";
  }
  return null;
}
