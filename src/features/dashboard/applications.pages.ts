import { APPLICATION_LINKS, type ApplicationLink } from '../../domain/applications.ts';
import type { Principal } from '../../domain/principal.ts';
import { isApiScope } from '../../domain/scopes.ts';
import type { AppContext } from '../../http/context.ts';
import { type ApplicationView, createApplicationSchema, updateApplicationSchema } from '../../wire/applications.ts';
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
  APP_TYPE_OPTIONS,
  OVERLAP_CHOICES,
  SUBJECT_TYPE_OPTIONS,
  appHasSecret,
  appMayRequireDpop,
  appUsesRedirects,
  fieldList,
  fieldText,
  lines,
  noticeFor,
  scopeOptions,
} from './view-models.ts';

interface AppForm extends Record<ApplicationLink, string> {
  name: string;
  type: string;
  redirect_uris: string;
  scopes: string[];
  /** Sign-out: one post-logout redirect URI a line, the back-channel logout URI, whether it needs sid. */
  post_logout_redirect_uris: string;
  backchannel_logout_uri: string;
  backchannel_logout_session_required: boolean;
  require_pkce: boolean;
  subject_type: string;
  /** The device flow (RFC 8628): on the detail page only; a new application gets its type's default. */
  device_flow: boolean;

  require_pushed_authorization_requests: boolean;
  require_dpop: boolean;

  /** API access: one allowed browser origin a line, one API identifier (token exchange) a line. */
  allowed_origins: string;
  token_exchange: string;
}

const NO_LINKS = { logo_uri: '', client_uri: '', policy_uri: '', tos_uri: '' };
const NO_LOGOUT = {
  post_logout_redirect_uris: '',
  backchannel_logout_uri: '',
  backchannel_logout_session_required: false,
};
// A person choosing in the form starts from the safe setting: PKCE required (a web application may
// untick it). The API's registration keeps it optional for web applications when not given, because
// its documented code flow sends no code_challenge (domain/applications.ts defaultRequirePkce).
const EMPTY_FORM: AppForm = {
  name: '',
  type: 'web',
  redirect_uris: '',
  scopes: [],
  ...NO_LINKS,
  ...NO_LOGOUT,
  require_pkce: true,
  subject_type: 'public',
  device_flow: false,

  require_pushed_authorization_requests: false,
  require_dpop: false,

  allowed_origins: '',
  token_exchange: '',
};

function readForm(ctx: AppContext, type?: string): AppForm {
  const body = formBody(ctx);
  return {
    name: fieldText(body['name']).trim(),
    type: type ?? (fieldText(body['type']) || 'web'),
    redirect_uris: fieldText(body['redirect_uris']),
    scopes: fieldList(body['scopes']),
    post_logout_redirect_uris: fieldText(body['post_logout_redirect_uris']),
    backchannel_logout_uri: fieldText(body['backchannel_logout_uri']).trim(),
    backchannel_logout_session_required: fieldText(body['backchannel_logout_session_required']) === 'yes',
    require_pkce: fieldText(body['require_pkce']) === 'on',
    subject_type: fieldText(body['subject_type']) || 'public',
    device_flow: fieldText(body['device_flow']) === 'on',

    require_pushed_authorization_requests: fieldText(body['require_pushed_authorization_requests']) === 'on',
    require_dpop: fieldText(body['require_dpop']) === 'on',

    allowed_origins: fieldText(body['allowed_origins']),
    token_exchange: fieldText(body['token_exchange']),
    ...(Object.fromEntries(APPLICATION_LINKS.map((l) => [l, fieldText(body[l]).trim()])) as Record<
      ApplicationLink,
      string
    >),
  };
}

/** The consent-page links as the API takes them: an empty field is no link. */
const linksFrom = (form: AppForm) =>
  Object.fromEntries(APPLICATION_LINKS.map((l) => [l, form[l] || null])) as Record<ApplicationLink, string | null>;

/**
 * The sign-in settings a form may change for this type: none for types that sign nobody in, the
 * subject type for public clients (their PKCE is not optional: the box is shown ticked and locked).
 */
const openIdSettingsFrom = (form: AppForm, type: string) => ({
  ...(type === 'web' ? { require_pkce: form.require_pkce } : {}),
  ...(appUsesRedirects(type)
    ? {
        subject_type: form.subject_type,
        require_pushed_authorization_requests: form.require_pushed_authorization_requests,
      }
    : {}),
  ...(appMayRequireDpop(type) ? { require_dpop: form.require_dpop } : {}),
});

/**
 * The API access settings a form may change for this type: origins for types with pages, token
 * exchange for confidential ones (or when typed in anyway, so the refusal names the field).
 */
const apiAccessFrom = (form: AppForm, type: string) => ({
  ...(appUsesRedirects(type) ? { allowed_origins: lines(form.allowed_origins) } : {}),
  ...((type !== 'spa' && type !== 'native') || form.token_exchange.trim()
    ? { token_exchange: lines(form.token_exchange) }
    : {}),
});

/** An application's links as the form shows them. */
/**
 * The built-in API's scopes to tick, and the application's scopes of registered APIs, ticked: the
 * form keeps them on a save (unticking one removes it), where built-in checkboxes alone would drop them.
 */
const applicationScopeOptions = (isAdmin: boolean, checked: readonly string[]) => [
  ...scopeOptions(isAdmin, checked),
  ...checked
    .filter((name) => !isApiScope(name))
    .map((name) => ({ name, description: 'A scope of a registered API', disabled: false, checked: true })),
];

const linksOf = (app: ApplicationView) =>
  Object.fromEntries(APPLICATION_LINKS.map((l) => [l, app[l] ?? ''])) as Record<ApplicationLink, string>;

/** The sign-out settings as the API takes them: an empty back-channel field is none. */
const logoutFrom = (form: AppForm) => ({
  post_logout_redirect_uris: lines(form.post_logout_redirect_uris),
  backchannel_logout_uri: form.backchannel_logout_uri || null,
  backchannel_logout_session_required: form.backchannel_logout_session_required,
});

/** An application's sign-out settings as the form shows them. */
const logoutOf = (app: ApplicationView) => ({
  post_logout_redirect_uris: app.post_logout_redirect_uris.join('\n'),
  backchannel_logout_uri: app.backchannel_logout_uri ?? '',
  backchannel_logout_session_required: app.backchannel_logout_session_required,
});

/** Settings → Applications: register, the client secret shown once, edit, rotate the secret, delete. */
export function registerApplicationPages(router: DashboardRouter, deps: DashboardDeps): void {
  const { applications } = deps;
  const page = dashboardPage(deps);
  const appPath = (clientId: string) => `/settings/applications/${encodeURIComponent(clientId)}`;

  const newPage = (ctx: AppContext, me: Principal, form: AppForm, error: string | null, status = 200) =>
    page(
      ctx,
      'application-new',
      'applications',
      {
        title: 'Register an application',
        form,
        types: APP_TYPE_OPTIONS,
        scopes: applicationScopeOptions(me.isAdmin, form.scopes),
        subjectTypes: SUBJECT_TYPE_OPTIONS,
        error,
      },
      status,
    );

  const detailPage = async (
    ctx: AppContext,
    me: Principal,
    app: ApplicationView,
    form: AppForm,
    error: string | null,
    status = 200,
  ) =>
    page(
      ctx,
      'application',
      'applications',
      {
        title: app.name,
        app,
        previousSecretUntil: appHasSecret(app.type) ? await applications.previousSecretExpiry(me, app.client_id) : null,
        form,
        usesRedirects: appUsesRedirects(app.type),
        pkceLocked: app.type !== 'web',
        dpopAllowed: appMayRequireDpop(app.type),

        exchangeAllowed: app.type !== 'spa' && app.type !== 'native',
        subjectTypes: SUBJECT_TYPE_OPTIONS,
        scopes: applicationScopeOptions(me.isAdmin, form.scopes),
        notice: noticeFor(ctx.query['done']),
        error,
      },
      status,
    );

  const gone = secretGonePage(deps);

  /** What the page showing a client secret needs besides the application. */
  interface ShownSecret {
    secret: string;
    rotated: boolean;
    previous_secret_expires_at: string | null;
  }

  /**
   * Post/Redirect/Get: the secret is held for this browser session and the browser is sent to the
   * page that shows it, once. A reload of that page finds nothing, and never re-posts the form.
   */
  const showOnce = async (ctx: AppContext, me: Principal, clientId: string, shown: ShownSecret) => {
    await deps.shownOnce.hold(me, 'client-secret', clientId, shown);
    seeOther(ctx, `${appPath(clientId)}/new-secret`);
  };

  /** The client id and, for confidential types, the secret; a public client's page has no secret to hold. */
  const credentialsPage = (ctx: AppContext, app: ApplicationView, shown: ShownSecret | null) => {
    page(ctx, 'application-secret', 'applications', {
      title: shown?.rotated ? 'Client secret rotated' : 'Application registered',
      app: { ...app, ...(shown ? { client_secret: shown.secret } : {}) },
      rotated: shown?.rotated ?? false,
      previousExpiresAt: shown?.previous_secret_expires_at ?? null,
    });
    noStore(ctx);
  };

  router.get(
    '/settings/applications',
    signedIn(async (ctx, me) => {
      page(ctx, 'applications', 'applications', {
        title: 'Applications',
        apps: await applications.list(me),
        // Self-registered clients nobody has reviewed yet, whoever holds them: admins review them here.
        awaitingReview: me.isAdmin ? await applications.listAwaitingReview(me) : [],
        notice: noticeFor(ctx.query['done']),
      });
    }),
  );

  router.get(
    '/settings/applications/new',
    signedIn((ctx, me) => newPage(ctx, me, EMPTY_FORM, null)),
  );

  router.post(
    '/settings/applications',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const form = readForm(ctx);
      if (!form.name)
        return newPage(
          ctx,
          me,
          form,
          'Give the application a name: people see it when they are asked to authorize it.',
          400,
        );
      if (form.scopes.length === 0)
        return newPage(ctx, me, form, 'Choose at least one scope the application may request.', 400);
      const uris = lines(form.redirect_uris);
      const result = await attempt(() =>
        applications.register(
          me,
          parseForm(createApplicationSchema, {
            name: form.name,
            type: form.type,
            redirect_uris: uris,
            scopes: form.scopes,
            ...linksFrom(form),
            ...(appUsesRedirects(form.type) ? logoutFrom(form) : {}),
            ...openIdSettingsFrom(form, form.type),
            ...apiAccessFrom(form, form.type),
          }),
          provenanceOf(ctx),
        ),
      );
      if (!result.ok) return newPage(ctx, me, form, result.message, result.status);
      const { client_id: clientId, client_secret: secret } = result.value;
      if (!secret) return seeOther(ctx, `${appPath(clientId)}/registered`);
      await showOnce(ctx, me, clientId, { secret, rotated: false, previous_secret_expires_at: null });
    }),
  );

  // A public client has no secret: its "registered" page may be seen again.
  router.get(
    '/settings/applications/:id/registered',
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      if (appHasSecret(app.type)) return seeOther(ctx, appPath(app.client_id));
      credentialsPage(ctx, app, null);
    }),
  );

  router.get(
    '/settings/applications/:id/new-secret',
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      const shown = await deps.shownOnce.take<ShownSecret>(me, 'client-secret', app.client_id);
      if (!shown) {
        return gone(ctx, 'applications', {
          what: 'client secret',
          advice: 'Rotate the secret to get a new one; you can keep the old one working while you deploy.',
          back: { href: appPath(app.client_id), label: `Go to ${app.name}` },
        });
      }
      credentialsPage(ctx, app, shown);
    }),
  );

  router.get(
    '/settings/applications/:id',
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      await detailPage(
        ctx,
        me,
        app,
        {
          name: app.name,
          type: app.type,
          redirect_uris: app.redirect_uris.join('\n'),
          scopes: app.scopes,
          ...linksOf(app),
          ...logoutOf(app),
          require_pkce: app.require_pkce,
          subject_type: app.subject_type,
          device_flow: app.device_flow,

          require_pushed_authorization_requests: app.require_pushed_authorization_requests,
          require_dpop: app.require_dpop,

          allowed_origins: app.allowed_origins.join('\n'),
          token_exchange: app.token_exchange.join('\n'),
        },
        null,
      );
    }),
  );

  router.post(
    '/settings/applications/:id',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      const form = readForm(ctx, app.type);
      if (!form.name) return detailPage(ctx, me, app, form, 'The application needs a name.', 400);
      if (form.scopes.length === 0)
        return detailPage(ctx, me, app, form, 'Choose at least one scope the application may request.', 400);
      const result = await attempt(() =>
        applications.update(
          me,
          app.client_id,
          parseForm(updateApplicationSchema, {
            name: form.name,
            scopes: form.scopes,
            ...linksFrom(form),
            ...(appUsesRedirects(app.type) ? { redirect_uris: lines(form.redirect_uris), ...logoutFrom(form) } : {}),
            ...openIdSettingsFrom(form, app.type),
            ...(appUsesRedirects(app.type) ? { device_flow: form.device_flow } : {}),

            ...apiAccessFrom(form, app.type),
            ...(appUsesRedirects(app.type) ? { redirect_uris: lines(form.redirect_uris) } : {}),
          }),
          provenanceOf(ctx),
        ),
      );
      if (!result.ok) return detailPage(ctx, me, app, form, result.message, result.status);
      seeOther(ctx, `${appPath(app.client_id)}?done=app-updated`);
    }),
  );

  router.get(
    '/settings/applications/:id/secret',
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      if (!appHasSecret(app.type)) return seeOther(ctx, appPath(app.client_id));
      page(ctx, 'application-rotate', 'applications', {
        title: `Rotate the secret of ${app.name}`,
        app,
        overlapChoices: OVERLAP_CHOICES,
        runningOverlapUntil: await applications.previousSecretExpiry(me, app.client_id),
      });
    }),
  );

  router.post(
    '/settings/applications/:id/secret',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const choice = OVERLAP_CHOICES.find((c) => c.value === fieldText(formBody(ctx)['overlap'])) ?? OVERLAP_CHOICES[0];
      const result = await attempt(() =>
        applications.rotateSecret(me, ctx.params['id']!, { overlapSeconds: choice.seconds }, provenanceOf(ctx)),
      );
      if (!result.ok) return deps.render.error(ctx, result.status, 'The secret cannot be rotated', result.message);
      const { client_id: clientId, client_secret: secret, previous_secret_expires_at } = result.value;
      await showOnce(ctx, me, clientId, { secret, rotated: true, previous_secret_expires_at });
    }),
  );

  // A self-registered client's review (its owner or an admin): approve, or reject (it stops at once).
  router.post(
    '/settings/applications/:id/review',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const decision = fieldText(formBody(ctx)['decision']) === 'approve' ? 'approve' : 'reject';
      const result = await attempt(() => applications.review(me, ctx.params['id']!, decision, provenanceOf(ctx)));
      if (!result.ok)
        return deps.render.error(ctx, result.status, 'The application cannot be reviewed', result.message);
      seeOther(ctx, `${appPath(result.value.client_id)}?done=app-${decision === 'approve' ? 'approved' : 'rejected'}`);
    }),
  );

  router.get(
    '/settings/applications/:id/delete',
    signedIn(async (ctx, me) => {
      const app = await applications.get(me, ctx.params['id']!);
      page(ctx, 'confirm', 'applications', {
        title: `Delete ${app.name}`,
        heading: `Delete the application “${app.name}”?`,
        message:
          'Its client ID and secret stop working at once, every access and refresh token issued to it is revoked, ' +
          'and everyone who authorized it loses the connection. This cannot be undone.',
        detail: { label: 'Client ID', value: app.client_id },
        action: `${appPath(app.client_id)}/delete`,
        button: 'Delete application',
        cancel: appPath(app.client_id),
      });
    }),
  );

  router.post(
    '/settings/applications/:id/delete',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      await applications.remove(me, ctx.params['id']!, provenanceOf(ctx));
      seeOther(ctx, '/settings/applications?done=app-deleted');
    }),
  );
}
