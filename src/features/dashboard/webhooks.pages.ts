import type { Principal } from '../../domain/principal.ts';
import type { AppContext } from '../../http/context.ts';
import { type EndpointView, createWebhookSchema, updateWebhookSchema } from '../../wire/webhooks.ts';
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
import { auditEventOptions, eventOptions, fieldList, fieldText, noticeFor } from './view-models.ts';
import { provenanceOf } from '../../http/request-facts.ts';

const DELIVERY_LOG_SIZE = 50;

/** The body as sent, indented to read; a body that is not JSON (never ours) is shown as it is. */
function prettyJson(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

interface EndpointForm {
  url: string;
  description: string;
  /** Event types, or ["*"] for every event. */
  events: string[];
}

const EMPTY_FORM: EndpointForm = { url: '', description: '', events: [] };

function readForm(ctx: AppContext): EndpointForm {
  const body = formBody(ctx);
  const events = fieldList(body['events']);
  return {
    url: fieldText(body['url']).trim(),
    description: fieldText(body['description']).trim(),
    // "All events" stands for every change event; the audit trail is chosen beside it, never implied.
    events: events.includes('*') ? ['*', ...events.filter((e) => e.startsWith('audit.'))] : events,
  };
}

/** Settings → Webhooks: add an endpoint (secret shown once), its delivery log, redeliver, edit, rotate, delete. */
export function registerWebhookPages(router: DashboardRouter, deps: DashboardDeps): void {
  const { webhooks } = deps;
  const page = dashboardPage(deps);
  const endpointPath = (id: string) => `/settings/webhooks/${encodeURIComponent(id)}`;

  const newPage = (ctx: AppContext, form: EndpointForm, error: string | null, status = 200) =>
    page(
      ctx,
      'webhook-new',
      'webhooks',
      {
        title: 'Add a webhook endpoint',
        form,
        events: eventOptions(form.events),
        auditEvents: auditEventOptions(form.events),
        error,
      },
      status,
    );

  const detailPage = async (
    ctx: AppContext,
    me: Principal,
    endpoint: EndpointView,
    form: EndpointForm,
    error: string | null,
    status = 200,
    editFailed = false,
  ) =>
    page(
      ctx,
      'webhook',
      'webhooks',
      {
        editFailed,
        title: `Webhook ${endpoint.url}`,
        endpoint,
        form,
        events: eventOptions(form.events),
        auditEvents: auditEventOptions(form.events),
        deliveries: await webhooks.deliveries(me, endpoint.id, DELIVERY_LOG_SIZE),
        notice: noticeFor(ctx.query['done']),
        error,
      },
      status,
    );

  const formOf = (e: EndpointView): EndpointForm => ({
    url: e.url,
    description: e.description ?? '',
    events: e.events,
  });

  const gone = secretGonePage(deps);

  /** What the page showing a signing secret needs besides the endpoint. */
  interface ShownSecret {
    secret: string;
    rotated: boolean;
    previous_secret_expires_at: string | null;
  }

  /**
   * Post/Redirect/Get: the signing secret is held for this browser session and the browser is sent
   * to the page that shows it, once. A reload of that page finds nothing, and never re-posts the form.
   */
  const showOnce = async (ctx: AppContext, me: Principal, endpointId: string, shown: ShownSecret) => {
    await deps.shownOnce.hold(me, 'webhook-secret', endpointId, shown);
    seeOther(ctx, `${endpointPath(endpointId)}/new-secret`);
  };

  router.get(
    '/settings/webhooks',
    signedIn(async (ctx, me) => {
      page(ctx, 'webhooks', 'webhooks', {
        title: 'Webhooks',
        endpoints: await webhooks.list(me.requireAccount()),
        notice: noticeFor(ctx.query['done']),
      });
    }),
  );

  router.get(
    '/settings/webhooks/new',
    signedIn((ctx) => newPage(ctx, EMPTY_FORM, null)),
  );

  router.post(
    '/settings/webhooks',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const form = readForm(ctx);
      if (!form.url) return newPage(ctx, form, 'Enter the URL that should receive the events.', 400);
      if (form.events.length === 0) return newPage(ctx, form, 'Choose at least one event, or All events.', 400);
      const result = await attempt(() =>
        webhooks.create(
          me.requireAccount(),
          parseForm(createWebhookSchema, {
            url: form.url,
            events: form.events,
            description: form.description || null,
          }),
          provenanceOf(ctx),
        ),
      );
      if (!result.ok) return newPage(ctx, form, result.message, result.status);
      await showOnce(ctx, me, result.value.id, {
        secret: result.value.secret,
        rotated: false,
        previous_secret_expires_at: null,
      });
    }),
  );

  router.get(
    '/settings/webhooks/:id/new-secret',
    signedIn(async (ctx, me) => {
      const endpoint = await webhooks.get(me, ctx.params['id']!);
      const shown = await deps.shownOnce.take<ShownSecret>(me, 'webhook-secret', endpoint.id);
      if (!shown) {
        return gone(ctx, 'webhooks', {
          what: 'signing secret',
          advice: 'Rotate the secret to get a new one; deliveries are signed with both for a while.',
          back: { href: endpointPath(endpoint.id), label: 'Go to the endpoint' },
        });
      }
      page(ctx, 'webhook-secret', 'webhooks', {
        title: shown.rotated ? 'Signing secret rotated' : 'Webhook endpoint added',
        endpoint: { ...endpoint, secret: shown.secret, previous_secret_expires_at: shown.previous_secret_expires_at },
        rotated: shown.rotated,
      });
      noStore(ctx);
    }),
  );

  router.get(
    '/settings/webhooks/:id',
    signedIn(async (ctx, me) => {
      const endpoint = await webhooks.get(me, ctx.params['id']!);
      await detailPage(ctx, me, endpoint, formOf(endpoint), null);
    }),
  );

  router.post(
    '/settings/webhooks/:id',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const endpoint = await webhooks.get(me, ctx.params['id']!);
      const form = readForm(ctx);
      if (!form.url)
        return detailPage(ctx, me, endpoint, form, 'Enter the URL that should receive the events.', 400, true);
      if (form.events.length === 0)
        return detailPage(ctx, me, endpoint, form, 'Choose at least one event, or All events.', 400, true);
      const result = await attempt(() =>
        webhooks.update(
          me,
          endpoint.id,
          parseForm(updateWebhookSchema, {
            url: form.url,
            events: form.events,
            description: form.description || null,
          }),
          provenanceOf(ctx),
        ),
      );
      if (!result.ok) return detailPage(ctx, me, endpoint, form, result.message, result.status, true);
      seeOther(ctx, `${endpointPath(endpoint.id)}?done=webhook-updated`);
    }),
  );

  router.post(
    '/settings/webhooks/:id/status',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const status = fieldText(formBody(ctx)['status']) === 'active' ? 'active' : 'disabled';
      await webhooks.update(me, ctx.params['id']!, { status }, provenanceOf(ctx));
      const done = status === 'active' ? 'webhook-enabled' : 'webhook-disabled';
      seeOther(ctx, `${endpointPath(ctx.params['id']!)}?done=${done}`);
    }),
  );

  router.post(
    '/settings/webhooks/:id/secret',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const rotated = await webhooks.rotateSecret(me, ctx.params['id']!, provenanceOf(ctx));
      await showOnce(ctx, me, rotated.id, {
        secret: rotated.secret,
        rotated: true,
        previous_secret_expires_at: rotated.previous_secret_expires_at,
      });
    }),
  );

  router.post(
    '/settings/webhooks/:id/deliveries/:deliveryId/redeliver',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const id = ctx.params['id']!;
      const result = await attempt(() => webhooks.redeliver(me, id, ctx.params['deliveryId']!));
      if (!result.ok) {
        const endpoint = await webhooks.get(me, id);
        return detailPage(ctx, me, endpoint, formOf(endpoint), result.message, result.status);
      }
      seeOther(ctx, `${endpointPath(id)}?done=redelivery-queued`);
    }),
  );

  /** Failed actions on a delivery or the endpoint come back to the endpoint's page, with the reason. */
  const actOn = async (ctx: AppContext, me: Principal, id: string, action: () => Promise<unknown>, done: string) => {
    const result = await attempt(action);
    if (!result.ok) {
      const endpoint = await webhooks.get(me, id);
      return detailPage(ctx, me, endpoint, formOf(endpoint), result.message, result.status);
    }
    seeOther(ctx, `${endpointPath(id)}?done=${done}`);
  };

  router.get(
    '/settings/webhooks/:id/deliveries/:deliveryId',
    signedIn(async (ctx, me) => {
      const endpoint = await webhooks.get(me, ctx.params['id']!);
      const delivery = await webhooks.delivery(me, endpoint.id, ctx.params['deliveryId']!);
      page(ctx, 'webhook-delivery', 'webhooks', {
        title: `Delivery of ${delivery.event_type}`,
        endpoint,
        delivery,
        payload: prettyJson(delivery.request_body),
        headerText: (headers: Record<string, string>) =>
          Object.entries(headers)
            .map(([name, value]) => `${name}: ${value}`)
            .join('\n'),
      });
    }),
  );

  router.post(
    '/settings/webhooks/:id/deliveries/:deliveryId/retry',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const id = ctx.params['id']!;
      await actOn(ctx, me, id, () => webhooks.retryNow(me, id, ctx.params['deliveryId']!), 'retry-queued');
    }),
  );

  router.post(
    '/settings/webhooks/:id/test',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const id = ctx.params['id']!;
      await actOn(ctx, me, id, () => webhooks.sendTestEvent(me, id), 'test-queued');
    }),
  );

  router.get(
    '/settings/webhooks/:id/delete',
    signedIn(async (ctx, me) => {
      const endpoint = await webhooks.get(me, ctx.params['id']!);
      page(ctx, 'confirm', 'webhooks', {
        title: 'Delete webhook endpoint',
        heading: 'Delete this webhook endpoint?',
        message: 'No more events will be sent to it, and its delivery log is deleted with it. This cannot be undone.',
        detail: { label: 'URL', value: endpoint.url },
        action: `${endpointPath(endpoint.id)}/delete`,
        button: 'Delete endpoint',
        cancel: endpointPath(endpoint.id),
      });
    }),
  );

  router.post(
    '/settings/webhooks/:id/delete',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      await webhooks.remove(me, ctx.params['id']!, provenanceOf(ctx));
      seeOther(ctx, '/settings/webhooks?done=webhook-deleted');
    }),
  );
}
