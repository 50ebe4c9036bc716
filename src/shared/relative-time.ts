/** Epoch ms as the pages show it: "5 minutes ago" for recent ones, else a UTC date and time. */
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
