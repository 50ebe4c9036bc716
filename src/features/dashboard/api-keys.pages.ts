import type { Principal } from '../../domain/principal.ts';
import type { AppContext } from '../../http/context.ts';
import { type ApiKeyView, createApiKeySchema } from '../../wire/api-keys.ts';
import { barChartSvg, dailyCounts, summarize } from './chart.ts';
import {
  attempt,
  dashboardPage,
  formBody,
  parseForm,
  noStore,
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
const RECENT_ROWS = 50;
const DAY = 86_400_000;

interface KeyForm {
  name: string;
  scopes: string[];
  expires: string;
  expires_date: string;
  allowed_ips: string;
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

  /** The key, shown once: the response to the POST itself, never a redirect and never cached. */
  const shownOnce = (ctx: AppContext, key: ApiKeyView & { key: string }, previous: ApiKeyView | null) => {
    page(ctx, 'api-key-created', 'api-keys', {
      title: previous ? 'API key rotated' : 'API key generated',
      apiKey: key,
      previous,
    });
    noStore(ctx);
  };

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
        ),
      );
      if (!result.ok) return formPage(ctx, me, form, result.message, result.status);
      shownOnce(ctx, result.value, null);
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
        recent: rows.slice(0, RECENT_ROWS),
      });
    }),
  );

  router.post(
    '/settings/api-keys/:id/rotate',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const id = ctx.params['id']!;
      const result = await attempt(() => apiKeys.rotate(me, id));
      if (!result.ok) return deps.render.error(ctx, result.status, 'This key cannot be rotated', result.message);
      shownOnce(ctx, result.value, await apiKeys.get(me, id));
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
      await apiKeys.revoke(me, ctx.params['id']!);
      seeOther(ctx, '/settings/api-keys?done=key-revoked');
    }),
  );
}
