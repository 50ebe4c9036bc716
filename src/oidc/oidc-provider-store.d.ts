// oidc-provider's store of the request it serves (lib/helpers/als.js): one AsyncLocalStorage,
// which its package exports no types for. Only what provider-store.ts uses of it.
declare module 'oidc-provider/lib/helpers/als.js' {
  const store: {
    run<R>(store: unknown, work: (...args: unknown[]) => R, ...args: unknown[]): R;
  };
  export default store;
}
