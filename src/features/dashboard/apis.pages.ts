import type { Principal } from '../../domain/principal.ts';
import type { AppContext } from '../../http/context.ts';
import { type ApiView, createApiSchema, updateApiSchema } from '../../wire/apis.ts';
import { protectedResourceMetadataUrl } from '../apis/protected-resource.ts';
import {
  attempt,
  dashboardPage,
  formBody,
  parseForm,
  seeOther,
  signedIn,
  type DashboardDeps,
  type DashboardRouter,
} from './shared.ts';
import { fieldText, noticeFor } from './view-models.ts';

/** The API form as typed: scopes one `name: description` a line, the lifetime as text. */
interface ApiForm {
  name: string;
  identifier: string;
  scopes: string;
  access_token_format: string;
  access_token_ttl: string;
}

/** A refusal for the form: its message, and the field it is shown beside (none: above the form). */
interface FormProblem {
  message: string;
  field: string | null;
}

const FORMAT_OPTIONS = [
  { value: 'opaque', label: 'Opaque', hint: 'Random strings your API checks at /oauth/introspect.' },
  { value: 'jwt', label: 'JWT', hint: 'Signed tokens your API verifies itself with the keys at /oauth/jwks.' },
];

/** The form's fields, by the first part of a refusal's field (`scopes.2.name` is the scopes field). */
const FORM_FIELDS = new Set(['name', 'identifier', 'scopes', 'access_token_format', 'access_token_ttl']);

/** The schema's words for these fields are about JSON types; the form says what to type instead. */
const PLAIN_REFUSALS: Record<string, string> = {
  access_token_format: 'Access token format: choose Opaque or JWT.',
  access_token_ttl: 'Access token lifetime: a whole number of seconds, from 60 to 86400.',
};

interface ParsedScopes {
  scopes: { name: string; description: string }[];
  /** The textarea line (1-based) each scope was typed on, for refusals that name a scope by index. */
  lineOf: number[];
}

/**
 * Scopes as typed, one `name: description` a line. A name has no spaces, so the first ": " ends it
 * (`read:orders: Read your orders`); a line without one is a name with no description, which the
 * service refuses naming the line.
 */
function parseScopes(text: string): ParsedScopes {
  const parsed: ParsedScopes = { scopes: [], lineOf: [] };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const cut = line.indexOf(': ');
    parsed.scopes.push(
      cut < 0
        ? { name: line, description: '' }
        : { name: line.slice(0, cut).trim(), description: line.slice(cut + 2).trim() },
    );
    parsed.lineOf.push(i + 1);
  });
  return parsed;
}

/** An API's scopes as the form shows them. */
const scopesText = (api: ApiView) => api.scopes.map((s) => `${s.name}: ${s.description}`).join('\n');

/** The lifetime as the API takes it: empty is "the default" (new) or "unchanged" (edit). */
function ttlFrom(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  // Anything but digits goes to the schema as text, which refuses it naming the field.
  return /^\d{1,9}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/**
 * A refusal placed on the form: `scopes.N.x` is reworded to the line it was typed on; a field the
 * form has gets the message beside it, anything else goes above the form.
 */
function problemOf(result: { message: string; field?: string }, parsed: ParsedScopes): FormProblem {
  const scope = /^scopes\.(\d+)(?:\.(name|description))?$/.exec(result.field ?? '');
  if (scope) {
    const line = parsed.lineOf[Number(scope[1])] ?? Number(scope[1]) + 1;
    const part = scope[2] ?? 'scope';
    const reason = result.message.replace(/^scopes\.\d+(?:\.(?:name|description))?:?\s*/, '');
    const said = reason.startsWith(`${part} `) ? reason : `${part} ${reason}`;
    return { message: `Scopes, line ${line}: the ${said}`, field: 'scopes' };
  }
  const top = (result.field ?? '').split('.')[0]!;
  return { message: PLAIN_REFUSALS[top] ?? result.message, field: FORM_FIELDS.has(top) ? top : null };
}

function readForm(ctx: AppContext): ApiForm {
  const body = formBody(ctx);
  return {
    name: fieldText(body['name']).trim(),
    identifier: fieldText(body['identifier']).trim(),
    scopes: fieldText(body['scopes']),
    access_token_format: fieldText(body['access_token_format']),
    access_token_ttl: fieldText(body['access_token_ttl']),
  };
}

const formOf = (api: ApiView): ApiForm => ({
  name: api.name,
  identifier: api.identifier,
  scopes: scopesText(api),
  access_token_format: api.access_token_format,
  access_token_ttl: String(api.access_token_ttl),
});

/** The format as the API takes it: none chosen is the default; an unknown one is for the schema to refuse. */
const formatFrom = (value: string) => value || undefined;

/**
 * Settings → APIs: register an API (resource server) with its own scopes, edit it (its identifier
 * never changes), see the protected resource metadata its server should publish, delete it.
 */
export function registerApiPages(router: DashboardRouter, deps: DashboardDeps): void {
  const { apis } = deps;
  const page = dashboardPage(deps);
  const apiPath = (id: string) => `/settings/apis/${encodeURIComponent(id)}`;
  const emptyForm = (): ApiForm => ({
    name: '',
    identifier: '',
    scopes: '',
    access_token_format: apis.builtIn.accessTokenFormat,
    access_token_ttl: String(apis.builtIn.accessTokenTtl),
  });

  const newPage = (ctx: AppContext, form: ApiForm, problem: FormProblem | null, status = 200) =>
    page(
      ctx,
      'api-new',
      'apis',
      {
        title: 'Register an API',
        form,
        formats: FORMAT_OPTIONS,
        error: problem && !problem.field ? problem.message : null,
        fieldError: problem?.field ? problem : null,
      },
      status,
    );

  const detailPage = async (
    ctx: AppContext,
    me: Principal,
    api: ApiView,
    form: ApiForm,
    problem: FormProblem | null,
    status = 200,
  ) =>
    page(
      ctx,
      'api',
      'apis',
      {
        title: api.name,
        api,
        form,
        formats: FORMAT_OPTIONS,
        metadataUrl: protectedResourceMetadataUrl(api.identifier),
        metadata: JSON.stringify(await apis.metadata(me, api.id), null, 2),
        notice: noticeFor(ctx.query['done']),
        error: problem && !problem.field ? problem.message : null,
        fieldError: problem?.field ? problem : null,
      },
      status,
    );

  router.get(
    '/settings/apis',
    signedIn(async (ctx, me) => {
      // As /v2/apis answers it: the account's own APIs (everyone's for an administrator).
      const { data } = await apis.list(me, { limit: 100, offset: 0 });
      page(ctx, 'apis', 'apis', { title: 'APIs', apis: data, notice: noticeFor(ctx.query['done']) });
    }),
  );

  router.get(
    '/settings/apis/new',
    signedIn((ctx) => newPage(ctx, emptyForm(), null)),
  );

  router.post(
    '/settings/apis',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const form = readForm(ctx);
      if (!form.name) {
        return newPage(
          ctx,
          form,
          { message: 'Give the API a name: people see it on the consent page.', field: 'name' },
          400,
        );
      }
      const parsed = parseScopes(form.scopes);
      const result = await attempt(() =>
        apis.create(
          me,
          parseForm(createApiSchema, {
            name: form.name,
            identifier: form.identifier,
            scopes: parsed.scopes,
            access_token_format: formatFrom(form.access_token_format),
            access_token_ttl: ttlFrom(form.access_token_ttl),
          }),
        ),
      );
      if (!result.ok) return newPage(ctx, form, problemOf(result, parsed), result.status);
      seeOther(ctx, apiPath(result.value.id));
    }),
  );

  router.get(
    '/settings/apis/:id',
    signedIn(async (ctx, me) => {
      const api = await apis.get(me, ctx.params['id']!);
      await detailPage(ctx, me, api, formOf(api), null);
    }),
  );

  router.post(
    '/settings/apis/:id',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const api = await apis.get(me, ctx.params['id']!);
      // The identifier is shown, never posted: it cannot change.
      const form = { ...readForm(ctx), identifier: api.identifier };
      if (!form.name) {
        return detailPage(ctx, me, api, form, { message: 'The API needs a name.', field: 'name' }, 400);
      }
      const parsed = parseScopes(form.scopes);
      const result = await attempt(() =>
        apis.update(
          me,
          api.id,
          parseForm(updateApiSchema, {
            name: form.name,
            scopes: parsed.scopes,
            access_token_format: formatFrom(form.access_token_format),
            access_token_ttl: ttlFrom(form.access_token_ttl),
          }),
        ),
      );
      if (!result.ok) return detailPage(ctx, me, api, form, problemOf(result, parsed), result.status);
      seeOther(ctx, `${apiPath(api.id)}?done=api-updated`);
    }),
  );

  const confirmPage = (ctx: AppContext, api: ApiView, error: string | null, status = 200) =>
    page(
      ctx,
      'confirm',
      'apis',
      {
        title: `Delete ${api.name}`,
        heading: `Delete the API “${api.name}”?`,
        message:
          'Its scopes leave every application that has them, and every token issued for it stops working. ' +
          'This cannot be undone.',
        detail: { label: 'Identifier', value: api.identifier },
        action: `${apiPath(api.id)}/delete`,
        button: 'Delete API',
        cancel: apiPath(api.id),
        error,
      },
      status,
    );

  router.get(
    '/settings/apis/:id/delete',
    signedIn(async (ctx, me) => confirmPage(ctx, await apis.get(me, ctx.params['id']!), null)),
  );

  router.post(
    '/settings/apis/:id/delete',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      const api = await apis.get(me, ctx.params['id']!);
      // Refused while resource_server applications belong to it: the page says why.
      const result = await attempt(() => apis.remove(me, api.id));
      if (!result.ok) return confirmPage(ctx, api, result.message, result.status);
      seeOther(ctx, '/settings/apis?done=api-deleted');
    }),
  );
}
