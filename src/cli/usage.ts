/** A mistake in the command line: reported as one `latchkey: ...` line, exit 1. */
export class UsageError extends Error {}

export function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a whole number of at least 1`);
  return Number(text);
}

/** `90d`, `12h`, `30m`, `45s` or plain seconds, to seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([dhms]?)$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw new UsageError(`not a duration: ${text} (use e.g. 90d, 12h, 30m)`);
  return Number(m[1]) * ({ d: 86_400, h: 3600, m: 60, s: 1, '': 1 } as const)[m[2] as 'd' | 'h' | 'm' | 's' | ''];
}

/** `--scopes "a b"` or `--scopes a,b`, to a list. */
export function scopeList(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter(Boolean);
}
