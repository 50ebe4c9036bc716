import ipaddr from 'ipaddr.js';

/** An address range: its first address and how many leading bits must match. */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** `10.0.0.0/8`, `2001:db8::/32` or one address (a /32 or /128); null when it is neither. */
export function parseCidr(value: string): Cidr | null {
  try {
    if (value.includes('/')) return ipaddr.parseCIDR(value);
    const addr = ipaddr.parse(value);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

/** Is `ip` inside one of the ranges? IPv4-mapped IPv6 addresses count as IPv4. */
export function ipAllowed(ip: string, ranges: Cidr[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return false;
  }
  return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match([range, bits] as never));
}
