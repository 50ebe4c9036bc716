import type { Principal } from '../../domain/principal.ts';
import type { AppContext } from '../../http/context.ts';
import { activityQuery, type ApiKeyView, createApiKeySchema, rotateApiKeySchema } from '../../wire/api-keys.ts';
import { barChartSvg, dailyCounts, summarize } from './chart.ts';
import { provenanceOf } from '../../http/request-facts.ts';
import {
  attempt,
  dashboardPage,
  formBody,
  parseForm,
  noStore,
  secretGonePage,
  seeOther,
  signedIn,
  type DashboardDeps,
  type DashboardRouter,
} from './shared.ts';
import {
  expiresAtFrom,
  fieldList,
  fieldText,
  isLiveKey,
  keyFlags,
  lines,
  noticeFor,
  scopeOptions,
  EXPIRY_CHOICES,
} from './view-models.ts';

/** How many activity rows the chart reads (the service has no per-day count; see the report). */
export const CHART_ROW_LIMIT = 5000;
const CHART_DAYS = 30;
const ACTIVITY_PAGE = 50;

/** The activity filter form as typed (dates as YYYY-MM-DD, whole days in UTC): echoed back into the form. */
interface ActivityFilterForm {
  status: string;
  path: string;
  from: string;
  to: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const textOf = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/**
 * The activity query of the key page's filter form and pager links. What does not parse is dropped
 * (a filter left out, never an error page): the form shows what was applied.
 */
function activityFilterFrom(query: Record<string, unknown>): { form: ActivityFilterForm; query: object } {
  const form: ActivityFilterForm = {
    status: textOf(query['status']),
    path: textOf(query['path']),
    from: DATE.test(textOf(query['from'])) ? textOf(query['from']) : '',
    to: DATE.test(textOf(query['to'])) ? textOf(query['to']) : '',
  };
  const day = 86_400_000;
  const candidate = {
    limit: ACTIVITY_PAGE,
    ...(form.status && { status: form.status }),
    ...(form.path && { path: form.path }),
    ...(form.from && { from: `${form.from}T00:00:00Z` }),
    // "To" a date includes that whole day.
    ...(form.to && { to: new Date(Date.parse(`${form.to}T00:00:00Z`) + day).toISOString() }),
    ...(textOf(query['older']) && { older_than: textOf(query['older']) }),
    ...(textOf(query['newer']) && { newer_than: textOf(query['newer']) }),
  };
  const applied: Record<string, unknown> = { ...candidate };
  for (const [k, v] of Object.entries(candidate)) {
    if (!activityQuery.shape[k as keyof typeof activityQuery.shape].safeParse(v).success) {
      delete applied[k];
      if (k in form) form[k as keyof ActivityFilterForm] = '';
    }
  }
  return { form, query: applied };
}

/** A link to another page of the activity with the same filters. */
function activityLink(keyId: string, form: ActivityFilterForm, cursor: Record<string, string>): string {
  const params = new URLSearchParams({ ...Object.fromEntries(Object.entries(form).filter(([, v]) => v)), ...cursor });
  return `/settings/api-keys/${encodeURIComponent(keyId)}?${params}#log-heading`;
}
const DAY = 86_400_000;

interface KeyForm {
  name: string;
  scopes: string[];
  expires: string;
  expires_date: string;
  allowed_ips: string;
}

interface RotateForm {
  /** `keep` (the old key's expiry) or one of EXPIRY_CHOICES. */
  expires: string;
  expires_date: string;
}

const EMPTY_FORM: KeyForm = { name: '', scopes: [], expires: '90', expires_date: '', allowed_ips: '' };

/** Settings → API Keys: the list, Generate New Key, the key shown once, activity, rotate, revoke. */
export function registerApiKeyPages(router: DashboardRouter, deps: DashboardDeps): void {
  const { apiKeys, now } = deps;
  const page = dashboardPage(deps);

  const formPage = (ctx: AppContext, me: Principal, form: KeyForm, error: string | null, status = 200) =>
    page(
      ctx,
      'api-key-new',
      'api-keys',
      {
        title: 'Generate a new API key',
        form,
        scopes: scopeOptions(me.isAdmin, form.scopes),
        expiryChoices: EXPIRY_CHOICES,
        minDate: new Date(now() + DAY).toISOString().slice(0, 10),
        error,
      },
      status,
    );

  const gone = secretGonePage(deps);
  const keyPath = (id: string) => `/settings/api-keys/${encodeURIComponent(id)}`;

  /**
   * Post/Redirect/Get: the new key is held for this browser session and the browser is sent to the
   * page that shows it, once. A reload of that page finds nothing, and never re-posts the form.
   */
  const showOnce = async (ctx: AppContext, me: Principal, key: ApiKeyView & { key: string }, rotatedFrom?: string) => {
    await deps.shownOnce.hold(me, 'api-key', key.id, { secret: key.key, rotated_from: rotatedFrom ?? null });
    seeOther(ctx, `${keyPath(key.id)}/new-key`);
  };

  const rotatePage = (ctx: AppContext, key: ApiKeyView, form: RotateForm, error: string | null, status = 200) =>
    page(
      ctx,
      'api-key-rotate',
      'api-keys',
      {
        title: `Rotate ${key.name}`,
        apiKey: key,
        form,
        expiryChoices: [{ value: 'keep', label: 'Keep current' }, ...EXPIRY_CHOICES],
        minDate: new Date(now() + DAY).toISOString().slice(0, 10),
        graceUntil: Math.min(
          now() + deps.apiKeyRotationGraceMs,
          key.expires_at ? Date.parse(key.expires_at) : Infinity,
        ),
        error,
      },
      status,
    );

  router.get(
    '/settings/api-keys',
    signedIn(async (ctx, me) => {
      const t = now();
      const keys = (await apiKeys.list(me)).map((k) => ({ ...k, ...keyFlags(k, t) }));
      page(ctx, 'api-keys', 'api-keys', {
        title: 'API keys',
        live: keys.filter(isLiveKey),
        inactive: keys.filter((k) => !isLiveKey(k)),
        attention: keys.filter((k) => k.flags.length > 0).length,
        notice: noticeFor(ctx.query['done']),
      });
    }),
  );

  router.get(
    '/settings/api-keys/new',
    signedIn((ctx, me) => formPage(ctx, me, EMPTY_FORM, null)),
  );

  router.post(
    '/settings/api-keys',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const body = formBody(ctx);
      const form: KeyForm = {
        name: fieldText(body['name']).trim(),
        scopes: fieldList(body['scopes']),
        expires: fieldText(body['expires']) || 'never',
        expires_date: fieldText(body['expires_date']).trim(),
        allowed_ips: fieldText(body['allowed_ips']),
      };
      if (!form.name) return formPage(ctx, me, form, 'Give the key a name, so you can recognise it later.', 400);
      if (form.scopes.length === 0) return formPage(ctx, me, form, 'Choose at least one permission for the key.', 400);
      const expiry = expiresAtFrom(form.expires, form.expires_date, now());
      if ('error' in expiry) return formPage(ctx, me, form, expiry.error, 400);
      const ips = lines(form.allowed_ips);
      const result = await attempt(() =>
        apiKeys.create(
          me,
          parseForm(createApiKeySchema, {
            name: form.name,
            scopes: form.scopes,
            expires_at: expiry.expires_at,
            ...(ips.length ? { allowed_ips: ips } : {}),
          }),
          provenanceOf(ctx),
        ),
      );
      if (!result.ok) return formPage(ctx, me, form, result.message, result.status);
      await showOnce(ctx, me, result.value);
    }),
  );

  router.get(
    '/settings/api-keys/:id/new-key',
    signedIn(async (ctx, me) => {
      const key = await apiKeys.get(me, ctx.params['id']!);
      const shown = await deps.shownOnce.take<{ secret: string; rotated_from: string | null }>(me, 'api-key', key.id);
      if (!shown) {
        return gone(ctx, 'api-keys', {
          what: 'API key',
          advice: 'Rotate the key to get a new one (the old one keeps working for a while), or revoke it.',
          back: { href: keyPath(key.id), label: `Go to ${key.name}` },
        });
      }
      const previous = shown.rotated_from ? await apiKeys.get(me, shown.rotated_from) : null;
      page(ctx, 'api-key-created', 'api-keys', {
        title: previous ? 'API key rotated' : 'API key generated',
        apiKey: { ...key, key: shown.secret },
        previous,
      });
      noStore(ctx);
    }),
  );

  router.get(
    '/settings/api-keys/:id',
    signedIn(async (ctx, me) => {
      const t = now();
      const key = await apiKeys.get(me, ctx.params['id']!);
      const rows = await apiKeys.activity(me, key.id, { limit: CHART_ROW_LIMIT });
      const since = t - CHART_DAYS * DAY;
      const days = dailyCounts(
        rows.filter((r) => r.at >= since).map((r) => r.at),
        t,
        CHART_DAYS,
      );
      const truncated = rows.length === CHART_ROW_LIMIT && rows[rows.length - 1]!.at >= since;
      const filter = activityFilterFrom(ctx.query);
      const activity = await apiKeys.activityPage(me, key.id, activityQuery.parse(filter.query));
      const filtered = Object.values(filter.form).some((v) => v);
      page(ctx, 'api-key', 'api-keys', {
        title: `API key ${key.name}`,
        apiKey: { ...key, ...keyFlags(key, t) },
        chart: barChartSvg(days, {
          title: `Requests per day with ${key.name}, last ${CHART_DAYS} days`,
          id: 'requests',
        }),
        summary: summarize(days),
        truncated,
        chartRowLimit: CHART_ROW_LIMIT,
        recent: activity.rows,
        filter: filter.form,
        filtered,
        statusChoices: ['2xx', '3xx', '4xx', '5xx'],
        olderHref: activity.olderCursor ? activityLink(key.id, filter.form, { older: activity.olderCursor }) : null,
        newerHref: activity.newerCursor ? activityLink(key.id, filter.form, { newer: activity.newerCursor }) : null,
      });
    }),
  );

  router.get(
    '/settings/api-keys/:id/rotate',
    signedIn(async (ctx, me) => {
      const key = await apiKeys.get(me, ctx.params['id']!);
      // A key that expires starts a fresh term by default (90 days, the rotation period advised);
      // one that never expires stays that way unless another choice is made.
      rotatePage(ctx, key, { expires: key.expires_at ? '90' : 'keep', expires_date: '' }, null);
    }),
  );

  router.post(
    '/settings/api-keys/:id/rotate',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const id = ctx.params['id']!;
      const key = await apiKeys.get(me, id);
      const body = formBody(ctx);
      const form: RotateForm = {
        expires: fieldText(body['expires']) || 'keep',
        expires_date: fieldText(body['expires_date']).trim(),
      };
      const expiry = form.expires === 'keep' ? null : expiresAtFrom(form.expires, form.expires_date, now());
      if (expiry && 'error' in expiry) return rotatePage(ctx, key, form, expiry.error, 400);
      const input = parseForm(rotateApiKeySchema, expiry ? { expires_at: expiry.expires_at } : {});
      const result = await attempt(() => apiKeys.rotate(me, id, input, provenanceOf(ctx)));
      if (!result.ok) return deps.render.error(ctx, result.status, 'This key cannot be rotated', result.message);
      await showOnce(ctx, me, result.value, id);
    }),
  );

  router.get(
    '/settings/api-keys/:id/revoke',
    signedIn(async (ctx, me) => {
      const key = await apiKeys.get(me, ctx.params['id']!);
      page(ctx, 'confirm', 'api-keys', {
        title: `Revoke ${key.name}`,
        heading: `Revoke the API key “${key.name}”?`,
        message:
          'Every request that uses this key will be refused from now on. This cannot be undone: ' +
          'to restore access you will need to generate a new key and update the applications that use it.',
        detail: { label: 'Key', value: `${key.prefix}…` },
        action: `/settings/api-keys/${encodeURIComponent(key.id)}/revoke`,
        button: 'Revoke key',
        cancel: '/settings/api-keys',
      });
    }),
  );

  router.post(
    '/settings/api-keys/:id/revoke',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      await apiKeys.revoke(me, ctx.params['id']!, provenanceOf(ctx));
      seeOther(ctx, '/settings/api-keys?done=key-revoked');
    }),
  );
}
