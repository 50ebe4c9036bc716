import type { Middleware } from 'koa';
import type Router from '@koa/router';
import type { z } from 'zod';
import { DomainError, NotFound, NotYours } from '../../domain/errors.ts';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { sessionPrincipal, type Principal } from '../../domain/principal.ts';
import { parseWire } from '../../wire/parse.ts';
import { sha256 } from '../../shared/secrets.ts';
import { MAX_RETURN_TO } from '../accounts/accounts.pages.ts';
import type { ApiKeysService } from '../api-keys/api-keys.service.ts';
import type { ApplicationsService } from '../applications/applications.service.ts';
import type { ApisService } from '../apis/apis.service.ts';
import type { ConsentsService } from '../consents/consents.service.ts';
import type { WebhooksService } from '../webhooks/webhooks.service.ts';
import type { ShownOnceService } from '../shown-once/shown-once.service.ts';
import * as vm from './view-models.ts';

export interface DashboardDeps {
  render: Renderer;
  /** Form body parser + CSRF check, for every POST. */
  formGuard: Middleware<AppState>[];
  apiKeys: ApiKeysService;
  applications: ApplicationsService;
  /** Registered APIs (resource servers): Settings → APIs. */
  apis: ApisService;
  consents: ConsentsService;
  webhooks: WebhooksService;
  /** How long a rotated API key keeps working beside its replacement (API_KEY_ROTATION_GRACE), ms. */
  apiKeyRotationGraceMs: number;
  /** Holds a secret a form made for the one page view that shows it (Post/Redirect/Get). */
  shownOnce: ShownOnceService;
  now(): number;
  /** The issuer's origin (where the API and the OAuth endpoints are), for the examples on the pages. */
  origin: string;
  /** Whether the account has two-factor authentication on; the overview then drops its "enable 2FA" tip. */
  twoFactorEnabled?(userId: string): Promise<boolean>;
}

export type DashboardRouter = Router<AppState>;

/** The dashboard's sections, in the order of the navigation (the layout lists them). */
export type Section = 'overview' | 'api-keys' | 'applications' | 'apis' | 'authorized-apps' | 'webhooks' | 'security';

type Handler = (ctx: AppContext, me: Principal) => Promise<void> | void;

/**
 * Runs the handler for a signed-in account, as its principal (the account's rights as read on this
 * request); otherwise sends the browser to sign in and come back (a form post comes back to the
 * page it was posted from, never re-posted).
 */
export function signedIn(handler: Handler): Middleware<AppState> {
  return async (ctx) => {
    const account = ctx.state.account;
    if (!account) {
      const wanted = ctx.method === 'GET' ? ctx.originalUrl : ctx.path.replace(/\/[^/]+$/, '') || '/dashboard';
      const back = wanted.length <= MAX_RETURN_TO ? wanted : '/dashboard';
      if (ctx.method !== 'GET') ctx.status = 303;
      ctx.redirect(`/login?return_to=${encodeURIComponent(back)}`);
      return;
    }
    try {
      await handler(ctx, sessionPrincipal(account, ctx.state.sessionId ? sha256(ctx.state.sessionId) : ''));
    } catch (err) {
      // A page of a key, application or endpoint that is not yours is simply not there: the same
      // "Page not found" whether it is someone else's or does not exist (no existence oracle).
      if (err instanceof NotYours) throw new NotFound('Page');
      throw err;
    }
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Functions the templates call (formatting only; no data access). */
export function templateHelpers(now: number) {
  return {
    ...vm,
    now,
    /** A `<time>` element (trusted HTML; its text is escaped here), or `fallback` for no value. */
    time(value: string | number | null, style: 'date' | 'relative' | 'datetime' = 'date', fallback = 'Never'): string {
      if (value === null || value === undefined) return `<span class="muted">${escapeHtml(fallback)}</span>`;
      const ms = typeof value === 'number' ? value : Date.parse(value);
      const text =
        style === 'date' ? vm.formatDate(ms) : style === 'datetime' ? vm.formatDateTime(ms) : vm.relativeTime(ms, now);
      const datetime = new Date(ms).toISOString();
      const title = escapeHtml(vm.formatDateTime(ms));
      return `<time datetime="${datetime}" title="${title}">${escapeHtml(text)}</time>`;
    },
  };
}
export type TemplateHelpers = ReturnType<typeof templateHelpers>;

/** Renders a dashboard page: wide layout, its nav section marked, the helpers at hand. */
export function dashboardPage(deps: Pick<DashboardDeps, 'render' | 'now' | 'origin'>) {
  return (ctx: AppContext, template: string, section: Section, data: Record<string, unknown>, status = 200): void => {
    deps.render.page(
      ctx,
      `dashboard/${template}`,
      { wide: true, section, h: templateHelpers(deps.now()), origin: deps.origin, error: null, notice: null, ...data },
      status,
    );
  };
}

/** Form field names as people see them on the forms, for refusals that name a field. */
const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  scopes: 'Scopes',
  expires_at: 'Expiration',
  allowed_ips: 'IP allowlist',
  redirect_uris: 'Redirect URIs',
  type: 'Type',
  url: 'Endpoint URL',
  events: 'Events',
  description: 'Description',
  identifier: 'Identifier',
  access_token_format: 'Access token format',
  access_token_ttl: 'Access token lifetime',
};

/**
 * A refusal phrased for the form, from the field it names: `allowed_ips.1` with "allowed_ips.1:
 * each entry must be..." becomes "IP allowlist, line 2: each entry must be...". A refusal that names
 * no field the form has keeps its message.
 */
export function formMessage(err: DomainError): string {
  const m = err.field === undefined ? null : /^([a-z_]+)(?:\.(\d+))?$/.exec(err.field);
  const label = m ? FIELD_LABELS[m[1]!] : undefined;
  const prefix = `${err.field}: `;
  if (!m || !label || !err.message.startsWith(prefix)) return err.message;
  const index = m[2];
  return `${index !== undefined ? `${label}, line ${Number(index) + 1}` : label}: ${err.message.slice(prefix.length)}`;
}

/** Form input parsed with the same wire schema the API uses: a refusal names the field (see formMessage). */
export const parseForm = <S extends z.ZodType>(schema: S, input: unknown): z.output<S> => parseWire(schema, input);

/**
 * Runs a service call from a form handler. Input problems (400), refusals (403) and conflicts (409)
 * come back as a message for the form; anything else (not yours, 404, 500) goes to the error page.
 */
export async function attempt<T>(
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; status: number; message: string; field?: string }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const status = err instanceof DomainError && !(err instanceof NotYours) ? toAppError(err)?.status : undefined;
    if (status === 400 || status === 403 || status === 409 || status === 422 || status === 429) {
      const { field } = err as DomainError;
      return { ok: false, status, message: formMessage(err as DomainError), ...(field !== undefined && { field }) };
    }
    throw err;
  }
}

/** The posted form body. */
export const formBody = (ctx: AppContext): Record<string, unknown> =>
  (ctx.request as { body?: Record<string, unknown> }).body ?? {};

/** 303 See Other: after a successful form post, the browser GETs the next page. */
export function seeOther(ctx: AppContext, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

/** Pages that show a secret once: nothing may keep a copy of the response. */
export function noStore(ctx: AppContext): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
}

/** What the page for a secret already shown says to do instead, and where to do it. */
export interface SecretGone {
  /** What the secret was, e.g. "API key". */
  what: string;
  /** What to do if it was not stored. */
  advice: string;
  back: { href: string; label: string };
}

/**
 * The page for a secret that was shown once already (a reload, the back button, another browser
 * session): 410, never the secret and never a new one.
 */
export function secretGonePage(deps: Pick<DashboardDeps, 'render' | 'now' | 'origin'>) {
  const page = dashboardPage(deps);
  return (ctx: AppContext, section: Section, gone: SecretGone): void => {
    page(ctx, 'secret-gone', section, { title: 'Secret no longer available', gone }, 410);
    noStore(ctx);
  };
}
