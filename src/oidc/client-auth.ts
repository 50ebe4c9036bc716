/** Client credentials from an HTTP Basic header (RFC 6749 §2.3.1: both parts form-urlencoded). */
export function basicCredentials(header: string): { id: string; secret: string } | null {
  const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}
