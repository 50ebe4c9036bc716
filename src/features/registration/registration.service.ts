import { NotFound, NotYours, Unauthenticated, ValidationError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import { SELF_REGISTERED_OWNER, type RegistrationMode } from '../../domain/registration.ts';
import type { ApplicationRow, RegistrationTokenRow } from '../../db/schema.ts';
import { hasValidChecksum, mintSecret, newId, safeEqual, sha256 } from '../../shared/secrets.ts';
import { parseWire } from '../../wire/parse.ts';
import { createApplicationSchema } from '../../wire/applications.ts';
import {
  clientMetadataSchema,
  type CreateRegistrationTokenInput,
  type RegistrationTokenView,
} from '../../wire/registration.ts';
import { buildEvent } from '../webhooks/events.ts';
import { changedFields, clientActor, toView, type ApplicationsService } from '../applications/applications.service.ts';
import type { Provenance } from '../../domain/audit.ts';
import type { Audit } from '../audit/audit.ts';
import { applicationFromMetadata, metadataOf } from './client-metadata.ts';
import { RegistrationTokenSpent, type RegistrationRepo } from './registration.repo.ts';

/** Registration access tokens (RFC 7592): `lkrat_...`; initial access tokens (RFC 7591 §3): `lkiat_...`. */
export const REGISTRATION_ACCESS_TOKEN_PREFIX = 'lkrat';
export const INITIAL_ACCESS_TOKEN_PREFIX = 'lkiat';

export type ClientRegistration = Record<string, unknown>;

const tokenView = (row: RegistrationTokenRow): RegistrationTokenView => ({
  id: row.id,
  created_by: row.created_by,
  created_at: new Date(Number(row.created_at)).toISOString(),
  expires_at: row.expires_at === null ? null : new Date(Number(row.expires_at)).toISOString(),
  max_uses: row.max_uses,
  uses: Number(row.uses),
});

/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592). A registered client is an
 * application like any other (the applications' rules check it, the consent page and the
 * dashboard show it), marked `dynamic` with a review state. In `open` mode it is public and held
 * by SELF_REGISTERED_OWNER; with an initial access token, its issuer owns it and it may be
 * confidential. Its registration access token is kept as a hash and opens that one client only.
 */
export function createRegistrationService(deps: {
  repo: RegistrationRepo;
  applications: ApplicationsService;
  mode: RegistrationMode;
  /** The base of `registration_client_uri`. */
  issuer: string;
  now(): number;
  /** Records each change in the audit trail, written with the change. */
  audit: Audit;
}) {
  const { repo, applications, now } = deps;
  const clientUri = (clientId: string) => `${deps.issuer}/oauth/register/${encodeURIComponent(clientId)}`;

  const requireOn = () => {
    if (deps.mode === 'off') throw new NotFound('Dynamic client registration');
  };

  /** The initial access token presented, if it is one that may register a client now. */
  async function usableInitialToken(presented: string): Promise<RegistrationTokenRow> {
    if (!hasValidChecksum(presented, INITIAL_ACCESS_TOKEN_PREFIX)) throw new Unauthenticated();
    const hash = sha256(presented);
    const row = await repo.findTokenByHash(hash);
    const t = now();
    const live =
      row !== undefined &&
      safeEqual(row.token_hash, hash) &&
      (row.expires_at === null || Number(row.expires_at) > t) &&
      (row.max_uses === null || Number(row.uses) < row.max_uses);
    if (!live) throw new Unauthenticated();
    return row;
  }

  /** The client this registration access token opens: exactly the one named, compared in constant time. */
  async function clientFor(clientId: string, presented: string | null): Promise<ApplicationRow> {
    requireOn();
    if (!presented || !hasValidChecksum(presented, REGISTRATION_ACCESS_TOKEN_PREFIX)) throw new Unauthenticated();
    const row = await repo.findClient(clientId);
    const stored = row?.registration_token_hash ?? sha256(`absent:${presented}`);
    const matched = safeEqual(sha256(presented), stored);
    // A rejected client is gone as far as its own management goes too (RFC 7592 §2.1: 401).
    if (!row || !matched || row.review_state === 'rejected') throw new Unauthenticated();
    return row;
  }

  const parseMetadata = (body: unknown) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError('the body must be a JSON object of client metadata');
    }
    return parseWire(clientMetadataSchema, body);
  };

  return {
    mode: deps.mode,

    /**
     * RFC 7591 §3: registers a client from its metadata. `open` mode takes public clients from
     * anyone; an initial access token (required in `token` mode) lets its issuer's admin own the
     * client and lets it be confidential. The secret and the registration access token are shown
     * here once; only their hashes are kept.
     */
    async register(body: unknown, initialAccessToken: string | null, by: Provenance): Promise<ClientRegistration> {
      requireOn();
      if (deps.mode === 'token' && !initialAccessToken) throw new Unauthenticated();
      const token = initialAccessToken ? await usableInitialToken(initialAccessToken) : null;
      const meta = parseMetadata(body);
      const data = parseWire(createApplicationSchema, applicationFromMetadata(meta));
      if (!token && data.type !== 'spa' && data.type !== 'native') {
        const problem = 'open registration accepts public clients only (none, with PKCE)';
        throw new ValidationError(`token_endpoint_auth_method: ${problem}`, 'token_endpoint_auth_method');
      }
      const accessToken = mintSecret(REGISTRATION_ACCESS_TOKEN_PREFIX);
      const ownerId = token?.created_by ?? SELF_REGISTERED_OWNER.id;
      const { row, secret } = await applications.draftRegistered(ownerId, data, {
        review_state: 'pending',
        registration_token_hash: sha256(accessToken),
        registered_with: token?.id ?? null,
      });
      if (!token) await repo.ensureSelfRegisteredOwner(row.created_at);
      const created = buildEvent(
        'application.created',
        ownerId,
        { client_id: row.client_id, name: row.name, type: row.type },
        row.created_at,
      );
      const recorded = deps.audit.event(
        'application.created',
        {
          account: ownerId,
          target: { type: 'application', id: row.client_id },
          data: {
            name: row.name,
            type: row.type,
            registration: row.registration,
            initial_access_token: token?.id ?? null,
          },
          actor: clientActor(row),
        },
        by,
      );
      try {
        await repo.insertClient(row, token ? { id: token.id, t: row.created_at } : null, [created, recorded]);
      } catch (err) {
        if (err instanceof RegistrationTokenSpent) throw new Unauthenticated();
        throw err;
      }
      return {
        ...metadataOf(toView(row)),
        ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        registration_access_token: accessToken,
        registration_client_uri: clientUri(row.client_id),
      };
    },

    /** RFC 7592 §2.1: the client's registered metadata (its secret is not kept, so not shown). */
    async read(clientId: string, accessToken: string | null): Promise<ClientRegistration> {
      const row = await clientFor(clientId, accessToken);
      return { ...metadataOf(toView(row)), registration_client_uri: clientUri(row.client_id) };
    },

    /**
     * RFC 7592 §2.2: replaces the client's metadata (what is omitted is emptied). The client keeps
     * its type: a public client cannot become confidential or the other way round. A secret sent
     * along must be the client's own.
     */
    async update(
      clientId: string,
      accessToken: string | null,
      body: unknown,
      by: Provenance,
    ): Promise<ClientRegistration> {
      const row = await clientFor(clientId, accessToken);
      const meta = parseMetadata(body);
      if (meta.client_id !== row.client_id) {
        throw new ValidationError('client_id: must be the client being updated', 'client_id');
      }
      if (
        meta.client_secret !== undefined &&
        !(row.secret_hash && safeEqual(sha256(meta.client_secret), row.secret_hash))
      ) {
        throw new ValidationError('client_secret: is not the secret of this client', 'client_secret');
      }
      const data = parseWire(createApplicationSchema, applicationFromMetadata(meta));
      if (data.type !== row.type) {
        const problem = `this client is a ${row.type} client and stays one; register a new client instead`;
        throw new ValidationError(`token_endpoint_auth_method: ${problem}`, 'token_endpoint_auth_method');
      }
      const next = await applications.draftRegisteredChange(row, data);
      await repo.updateClient(row.client_id, next, [
        deps.audit.event(
          'application.changed',
          {
            account: row.owner_id,
            target: { type: 'application', id: row.client_id },
            data: { name: next.name, fields: changedFields(row, next) },
            actor: clientActor(row),
          },
          by,
        ),
      ]);
      applications.changed(row.client_id);
      return { ...metadataOf(toView(next)), registration_client_uri: clientUri(row.client_id) };
    },

    /** RFC 7592 §2.3: the client deletes itself, and every grant and token issued to it. */
    async remove(clientId: string, accessToken: string | null, by: Provenance): Promise<void> {
      await applications.removeRegistered(await clientFor(clientId, accessToken), by);
    },

    /** Issues an initial access token (admins only); shown once, only its hash is kept. */
    async issueToken(
      caller: Principal,
      input: CreateRegistrationTokenInput,
    ): Promise<RegistrationTokenView & { token: string }> {
      if (!caller.isAdmin) throw new NotYours();
      const createdBy = caller.requireAccount();
      const token = mintSecret(INITIAL_ACCESS_TOKEN_PREFIX);
      const t = now();
      const row = {
        id: newId('iat'),
        token_hash: sha256(token),
        created_by: createdBy,
        created_at: t,
        expires_at: input.expires_in === undefined ? null : t + input.expires_in * 1000,
        max_uses: input.max_uses ?? null,
      };
      await repo.insertToken(row);
      return { ...tokenView({ ...row, uses: 0 }), token };
    },

    /** Every initial access token (admins only), newest first. */
    async listTokens(caller: Principal): Promise<RegistrationTokenView[]> {
      if (!caller.isAdmin) throw new NotYours();
      return (await repo.listTokens(null)).map(tokenView);
    },

    /** Deletes an initial access token (admins only): it registers nothing more; its clients stay. */
    async deleteToken(caller: Principal, id: string): Promise<void> {
      if (!caller.isAdmin) throw new NotYours();
      if (!(await repo.deleteToken(id))) throw new NotFound('Registration token');
    },
  };
}
export type RegistrationService = ReturnType<typeof createRegistrationService>;
