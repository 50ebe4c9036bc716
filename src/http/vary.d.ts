// `vary` (Koa's own dependency for `ctx.vary`) ships no types: the one call used here.
declare module 'vary' {
  /** Adds `field` to the Vary field of anything that gets and sets fields as a Node response does. */
  function vary(
    res: { getHeader(name: string): unknown; setHeader(name: string, value: string): unknown },
    field: string | string[],
  ): void;
  export default vary;
}
