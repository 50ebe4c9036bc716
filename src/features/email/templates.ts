import path from 'node:path';
import { Eta } from 'eta';
import { VIEWS_DIR } from '../../shared/project-dirs.ts';

const VIEWS = path.join(VIEWS_DIR, 'email');

/** Every email Latchkey sends, with the data its template takes. */
export interface EmailTemplates {
  /** `latchkey mail test`: proves the configured delivery works. */
  test: { to: string };
  /** A change to the account's security (see accounts/security-notices.ts). */
  'security-notice': { headline: string; detail: string; name: string | null; when: string };
  /** Sent to a new address: the link that moves the account to it (see accounts/email-change.ts). */
  'email-change': { name: string | null; email: string; link: string };
  /** Sent instead, when the new address already belongs to another account: no link, nothing changes. */
  'email-change-taken': { signInUrl: string };
  /** The link that proves a new account's address (accounts/email-verification.ts); 24 hours. */
  'verify-email': { name: string | null; token: string };
  /** Sign-up was tried with an address that has an account: its owner hears of it, nothing changes. */
  'signup-existing': { name: string | null };
  /** A "Forgot password?" link (accounts/password-reset.ts); 30 minutes. `returnTo`: a same-site path. */
  'password-reset': { name: string | null; token: string; returnTo: string | null };
}
export type EmailTemplate = keyof EmailTemplates;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Renders `views/email/<name>.{subject,text,html}.eta`; text and HTML share one layout each. HTML is
 * auto-escaped; the text part and the subject are not (they are not markup), and the subject is
 * one line whatever the data holds.
 */
export function createEmailRenderer(opts: { issuer: string; cache: boolean }) {
  const html = new Eta({ views: VIEWS, cache: opts.cache, autoEscape: true });
  const text = new Eta({ views: VIEWS, cache: opts.cache, autoEscape: false });
  return {
    render<T extends EmailTemplate>(name: T, data: EmailTemplates[T]): RenderedEmail {
      const subject = text
        .render(`./${name}.subject.eta`, { ...data, issuer: opts.issuer })
        .replace(/\s+/g, ' ')
        .trim();
      const it = { ...data, issuer: opts.issuer, subject };
      return { subject, text: text.render(`./${name}.text.eta`, it), html: html.render(`./${name}.html.eta`, it) };
    },
  };
}
export type EmailRenderer = ReturnType<typeof createEmailRenderer>;

/** The first link in a text part: what the development file transport logs. */
export function firstLink(text: string): string | null {
  // A link that ends a sentence does not take its full stop with it.
  return /https?:\/\/[^\s<>"]+/.exec(text)?.[0].replace(/[.,;:!?)]+$/, '') ?? null;
}
