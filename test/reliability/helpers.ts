/**
 * Small helpers shared by the reliability suite (test/reliability/*.test.ts): HTML form inspection,
 * timing, and bounded waiting. Nothing here talks to the server on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../support/process.ts';

/** True in `npm run test:soak` (SOAK=1): the long, full-size figures. */
export const SOAK = process.env['SOAK'] === '1' || process.env['SOAK'] === 'true';

export interface PostForm {
  /** The action attribute, HTML entities decoded. */
  action: string;
  /** The `_csrf` hidden field's value, or null when the form has none. */
  csrf: string | null;
  /** The form's markup, for messages. */
  html: string;
}

const decode = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"');

/** Every `<form method="post">` of a page, with its action and its `_csrf` field (if any). */
export function postForms(html: string): PostForm[] {
  const forms: PostForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1]!;
    if (!/\bmethod\s*=\s*["']?post\b/i.test(attrs)) continue;
    const action = /\baction\s*=\s*"([^"]*)"/i.exec(attrs)?.[1] ?? '';
    const field = /<input\b[^>]*\bname="_csrf"[^>]*>/i.exec(m[2]!)?.[0];
    const value = field ? (/\bvalue="([^"]*)"/i.exec(field)?.[1] ?? '') : null;
    const hidden = field ? /\btype="hidden"/i.test(field) : false;
    forms.push({ action: decode(action), csrf: field && hidden && value ? value : null, html: m[0] });
  }
  return forms;
}

/** Every view template under views/, as [relative path, source]. */
export function viewTemplates(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.eta'))
        out.push([path.relative(PROJECT_ROOT, full), fs.readFileSync(full, 'utf8')]);
    }
  };
  walk(path.join(PROJECT_ROOT, 'views'));
  return out;
}

/** A project source file's text (path relative to the project root). */
export function source(relative: string): string {
  return fs.readFileSync(path.join(PROJECT_ROOT, relative), 'utf8');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs: number, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await check();
  while (!value && Date.now() < until) {
    await sleep(everyMs);
    value = await check();
  }
  return value;
}

/** Runs `worker` on `concurrency` lanes until `until()` is true; each lane loops. */
export async function lanes(
  concurrency: number,
  until: () => boolean,
  worker: (lane: number) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (!until()) await worker(lane);
    }),
  );
}
