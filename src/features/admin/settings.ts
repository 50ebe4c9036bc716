import { SETTING_DISPLAY, SETTING_NAMES, type Config } from '../../config.ts';

/** One setting as the console shows it. */
export interface ShownSetting {
  name: string;
  /** The value in effect, masked as SETTING_DISPLAY says. */
  value: string;
  source: 'environment' | 'default';
}

const MASK = '*****';

/** A URL with its password (and a lone username's token) replaced by the mask; not a URL: left as is. */
export function maskUrl(value: string): string {
  if (!URL.canParse(value)) return value;
  const url = new URL(value);
  if (!url.password && !url.username) return value;
  if (url.password) url.password = MASK;
  else url.username = MASK;
  return url.toString();
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return 'not set';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The effective configuration, every setting of the schema, secrets masked (read-only). */
export function effectiveSettings(config: Config): ShownSetting[] {
  const given = new Set(config.fromEnvironment);
  return SETTING_NAMES.map((name) => {
    const value = (config as Record<string, unknown>)[name];
    const display = SETTING_DISPLAY[name];
    const text =
      display === 'secret'
        ? value === undefined
          ? 'not set'
          : 'set'
        : display === 'url'
          ? value === undefined
            ? 'not set'
            : maskUrl(String(value))
          : shown(value);
    return { name, value: text, source: given.has(name) ? 'environment' : 'default' };
  });
}
