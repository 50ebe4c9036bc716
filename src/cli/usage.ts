/** A mistake in the command line: reported as one `latchkey: ...` line, exit 1. */
export class UsageError extends Error {}

export function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a whole number of at least 1`);
  return Number(text);
}

const UNIT_SECONDS = { d: 86_400, h: 3600, m: 60, s: 1 } as const;

/**
 * `90d`, `12h`, `30m` or `45s`, to seconds. The unit is required: a bare `90` read as seconds
 * silently made a key that died a minute and a half later, when its author meant 90 days.
 */
export function parseDuration(text: string, flag = '--expires-in'): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed))
    throw new UsageError(`${flag} ${trimmed} needs a unit: ${trimmed}d, ${trimmed}h, ${trimmed}m or ${trimmed}s`);
  const m = /^(\d+)([dhms])$/.exec(trimmed);
  if (!m || Number(m[1]) === 0) throw new UsageError(`${flag}: not a duration: ${text} (use e.g. 90d, 12h, 30m, 45s)`);
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

/** `--scopes "a b"` or `--scopes a,b`, to a list. */
export function scopeList(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter(Boolean);
}
