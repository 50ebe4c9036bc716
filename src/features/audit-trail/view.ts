/** Epoch ms as the trail's pages show it: "5 minutes ago" for recent ones, else a UTC date and time. */
export function when(ms: number, now: number): { iso: string; text: string } {
  const iso = new Date(ms).toISOString();
  const minutes = Math.floor((now - ms) / 60_000);
  const text =
    minutes < 1
      ? 'Just now'
      : minutes < 60
        ? `${minutes} minute${minutes === 1 ? '' : 's'} ago`
        : minutes < 24 * 60
          ? `${Math.floor(minutes / 60)} hour${minutes < 120 ? '' : 's'} ago`
          : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  return { iso, text };
}

/** An address as people write it: IPv4-mapped IPv6 (`::ffff:203.0.113.7`) shown as plain IPv4. */
export const displayIp = (ip: string | null) => (ip && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip);

/** The `before` cursor of a page link: a positive integer, anything else is the first page. */
export function cursorOf(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^[1-9]\d{0,15}$/.test(raw)) return undefined;
  return Number(raw);
}
