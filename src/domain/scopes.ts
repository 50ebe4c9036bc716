/**
 * The API's permission scopes: the documented six, plus the two that guard application registration.
 * `admin:all` is grantable only to admin accounts and implies every other scope.
 */
export const API_SCOPES = {
  'read:users': 'Read user information',
  'write:users': 'Create/update users',
  'delete:users': 'Delete users',
  'read:projects': 'Read project data',
  'write:projects': 'Create/update projects',
  'read:applications': 'Read your registered OAuth applications',
  'write:applications': 'Register and update OAuth applications',
  'admin:all': 'Full administrative access',
} as const;

export type ApiScope = keyof typeof API_SCOPES;
export const ADMIN_SCOPE: ApiScope = 'admin:all';
export const ALL_API_SCOPES = Object.keys(API_SCOPES) as ApiScope[];

export function isApiScope(s: string): s is ApiScope {
  return Object.hasOwn(API_SCOPES, s);
}

/** True when the granted scopes satisfy every required one (`admin:all` satisfies all). */
export function hasScopes(granted: Iterable<string>, required: readonly string[]): boolean {
  const set = new Set(granted);
  return set.has(ADMIN_SCOPE) || required.every((s) => set.has(s));
}
