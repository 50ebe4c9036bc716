import dns from 'node:dns';
import type net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Only public unicast addresses may receive webhooks: never loopback, private, link-local (and so
 * the cloud metadata address 169.254.169.254), carrier-grade NAT, unique-local, multicast or
 * reserved ranges, so a registered URL cannot reach the server's own network.
 */
export function isPublicAddress(ip: string): boolean {
  try {
    return ipaddr.process(ip).range() === 'unicast';
  } catch {
    return false;
  }
}

export class BlockedAddressError extends Error {}

/**
 * A `lookup` for http.request that refuses non-public addresses at connect time: checking the
 * resolved address where the socket uses it closes the DNS-rebinding gap of check-then-fetch.
 */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return (callback as (e: Error) => void)(err);
      const list = addresses as dns.LookupAddress[];
      const usable = allowPrivate ? list : list.filter((a) => isPublicAddress(a.address));
      if (usable.length === 0) {
        return (callback as (e: Error) => void)(
          new BlockedAddressError(`${hostname} resolves to a non-public address`),
        );
      }
      if ((options as dns.LookupOptions).all)
        return (callback as (e: null, a: dns.LookupAddress[]) => void)(null, usable);
      return (callback as (e: null, a: string, f: number) => void)(null, usable[0]!.address, usable[0]!.family);
    });
  };
}
