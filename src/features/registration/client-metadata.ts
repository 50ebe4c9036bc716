import { ValidationError } from '../../domain/errors.ts';
import { isPublicType, usesRedirects, APPLICATION_LINKS, type ApplicationType } from '../../domain/applications.ts';
import { OPENID_REQUEST_SCOPES, REGISTRABLE_SCOPES } from '../../domain/registration.ts';
import { ADMIN_SCOPE } from '../../domain/scopes.ts';
import type { ApplicationView, CreateApplicationInput } from '../../wire/applications.ts';
import type { ClientMetadataInput } from '../../wire/registration.ts';

/** The client authentication methods a registration may ask for (client_secret_jwt would need the plain secret). */
const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
const CODE_GRANTS = new Set(['authorization_code', 'refresh_token']);

const refuse = (field: string, problem: string): never => {
  throw new ValidationError(`${field}: ${problem}`, field);
};

/** The application type the metadata describes (RFC 7591 §2's defaults: client_secret_basic, authorization_code). */
function typeOf(meta: ClientMetadataInput): ApplicationType {
  const auth = meta.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!(AUTH_METHODS as readonly string[]).includes(auth)) {
    refuse('token_endpoint_auth_method', `must be one of: ${AUTH_METHODS.join(', ')}`);
  }
  const grants = meta.grant_types ?? ['authorization_code'];
  const service = grants.includes('client_credentials');
  const unknown = grants.filter((g) => !CODE_GRANTS.has(g) && g !== 'client_credentials');
  if (unknown.length) refuse('grant_types', `not supported for a registered client: ${unknown.join(', ')}`);
  if (service && grants.length > 1) {
    refuse(
      'grant_types',
      'client_credentials cannot be combined with the authorization code flow; register two clients',
    );
  }
  const responses = meta.response_types ?? (service ? [] : ['code']);
  const expected = service ? [] : ['code'];
  if (responses.length !== expected.length || responses.some((r) => !expected.includes(r))) {
    refuse('response_types', service ? 'a client_credentials client has none' : 'must be ["code"]');
  }
  if (service) {
    if (auth === 'none') refuse('token_endpoint_auth_method', 'a client_credentials client must have a secret');
    return 'service';
  }
  if (auth !== 'none') return 'web';
  // A public client: native when it says so or when it returns to a private-use scheme (RFC 8252 §7.1).
  const privateScheme = (meta.redirect_uris ?? []).some(
    (u) => URL.canParse(u) && !/^https?:$/.test(new URL(u).protocol),
  );
  return meta.application_type === 'native' || privateScheme ? 'native' : 'spa';
}

/**
 * The /v2 scopes a registration asks for in `scope` (RFC 7591 §2), or all that a self-registered
 * client may have when it names none. OpenID scopes are always available and not stored.
 */
function apiScopesOf(scope: string | undefined): string[] {
  if (scope === undefined) return [...REGISTRABLE_SCOPES];
  const asked = scope.split(' ').filter(Boolean);
  if (asked.includes(ADMIN_SCOPE)) refuse('scope', `${ADMIN_SCOPE} is never granted to a self-registered client`);
  const unknown = asked.filter((s) => !REGISTRABLE_SCOPES.includes(s as never) && !OPENID_REQUEST_SCOPES.includes(s));
  if (unknown.length) refuse('scope', `unknown scopes: ${unknown.join(' ')}`);
  return [...new Set(asked.filter((s) => REGISTRABLE_SCOPES.includes(s as never)))];
}

/**
 * An application registration from RFC 7591 metadata: its type from the authentication method and
 * grants, PKCE always required, and, as RFC 7592 §2.2 says of updates, whatever is omitted is
 * empty. The values are then checked by the applications' own rules (the wire schema, redirect
 * URIs, links, logout).
 */
export function applicationFromMetadata(meta: ClientMetadataInput): CreateApplicationInput {
  const type = typeOf(meta);
  const redirects = meta.redirect_uris ?? [];
  if (!usesRedirects(type) && redirects.length) refuse('redirect_uris', 'a client_credentials client has none');
  if (meta.application_type === 'native' && !isPublicType(type)) {
    refuse('application_type', 'a native application is a public client: token_endpoint_auth_method must be none');
  }
  return {
    name: meta.client_name ?? 'Unnamed client',
    type,
    redirect_uris: redirects,
    scopes: apiScopesOf(meta.scope),
    logo_uri: meta.logo_uri ?? null,
    client_uri: meta.client_uri ?? null,
    policy_uri: meta.policy_uri ?? null,
    tos_uri: meta.tos_uri ?? null,
    post_logout_redirect_uris: meta.post_logout_redirect_uris ?? [],
    backchannel_logout_uri: meta.backchannel_logout_uri ?? null,
    backchannel_logout_session_required: meta.backchannel_logout_session_required ?? false,
    // PKCE for every self-registered client that uses the code flow: nobody has vouched for it.
    ...(usesRedirects(type) ? { require_pkce: true } : {}),
    subject_type: meta.subject_type ?? 'public',
  };
}

/** The registered metadata as RFC 7591 §3.2.1 and RFC 7592 §3 answer it (without the credentials). */
export function metadataOf(app: ApplicationView): Record<string, unknown> {
  const service = app.type === 'service';
  const links = Object.fromEntries(APPLICATION_LINKS.flatMap((l) => (app[l] ? [[l, app[l]]] : [])));
  return {
    client_id: app.client_id,
    client_id_issued_at: Math.floor(Date.parse(app.created_at) / 1000),
    client_name: app.name,
    redirect_uris: app.redirect_uris,
    grant_types: service ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    response_types: service ? [] : ['code'],
    token_endpoint_auth_method: isPublicType(app.type) ? 'none' : 'client_secret_basic',
    application_type: app.type === 'native' ? 'native' : 'web',
    scope: [...(service ? [] : OPENID_REQUEST_SCOPES), ...app.scopes].join(' '),
    subject_type: app.subject_type,
    ...links,
    ...(service ? {} : { post_logout_redirect_uris: app.post_logout_redirect_uris }),
    ...(app.backchannel_logout_uri
      ? {
          backchannel_logout_uri: app.backchannel_logout_uri,
          backchannel_logout_session_required: app.backchannel_logout_session_required,
        }
      : {}),
  };
}
