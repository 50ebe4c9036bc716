import { Eta } from 'eta';
import { VIEWS_DIR } from '../shared/project-dirs.ts';
import type { AppContext } from './context.ts';

export type Renderer = ReturnType<typeof createRenderer>;

/**
 * Server-rendered pages (Eta, auto-escaped). Every page gets the layout's common data: the CSRF
 * token, the CSP nonce and the signed-in account.
 */
export function createRenderer(opts: { cache: boolean }) {
  const eta = new Eta({ views: VIEWS_DIR, cache: opts.cache, autoEscape: true });
  return {
    page(ctx: AppContext, template: string, data: Record<string, unknown> = {}, status = 200): void {
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = eta.render(template, {
        csrfToken: ctx.state.csrfToken ?? '',
        nonce: ctx.state.cspNonce ?? '',
        account: ctx.state.account ?? null,
        ...data,
      });
    },
    /** An error page: what happened, and (optionally) what the application's developer should fix. */
    error(ctx: AppContext, status: number, title: string, message: string, developerHint?: string): void {
      this.page(
        ctx,
        'error',
        { title, message, developerHint: developerHint ?? null, requestId: ctx.state.requestId },
        status,
      );
    },
  };
}
