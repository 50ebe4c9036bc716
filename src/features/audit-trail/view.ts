/** An address as people write it: IPv4-mapped IPv6 (`::ffff:203.0.113.7`) shown as plain IPv4. */
export const displayIp = (ip: string | null) => (ip && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip);

/** The `before` cursor of a page link: a positive integer, anything else is the first page. */
export function cursorOf(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^[1-9]\d{0,15}$/.test(raw)) return undefined;
  return Number(raw);
}
