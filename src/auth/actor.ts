import { AppError, forbidden } from '../http/errors.ts';
import type { Credential } from './credential.ts';
import { ADMIN_SCOPE } from './scopes.ts';

/** Whose resources a request acts on, and whether it may act on everyone's (admin:all). */
export interface Actor {
  userId: string | null;
  admin: boolean;
}

export function actorOf(credential: Credential): Actor {
  return { userId: credential.userId, admin: credential.scopes.includes(ADMIN_SCOPE) };
}

/** Ownership rule of every /v2 resource: the owner, or a credential with admin:all; else 403. */
export function assertOwnerOrAdmin(actor: Actor, ownerId: string): void {
  if (!actor.admin && actor.userId !== ownerId) throw forbidden();
}

/** For creating resources: the credential must speak for a Latchkey account. */
export function requireUser(actor: Actor): string {
  if (!actor.userId) throw new AppError('FORBIDDEN', 'This credential is not bound to a Latchkey account');
  return actor.userId;
}
