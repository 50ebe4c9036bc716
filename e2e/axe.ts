import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
// Read once: axe-core's own build, evaluated in the page through the debugging protocol, so the
// page's CSP (which allows no script but its own) is neither loosened nor bypassed for the app.
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** Runs axe-core (WCAG 2.x A and AA rules) on the page as it is now; resolves with what it found. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is the global the evaluated source defines.
    const axe = (globalThis as any).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    // biome-ignore lint/suspicious/noExplicitAny: axe's result objects.
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      // biome-ignore lint/suspicious/noExplicitAny: axe's node objects.
      targets: v.nodes.map((n: any) => String(n.target)),
    }));
  });
}

/** Fails with every violation axe-core finds on the page, named by `label` (the page's path). */
export async function assertAccessible(page: Page, label: string): Promise<void> {
  const violations = await axeViolations(page);
  if (violations.length === 0) return;
  const lines = violations.map((v) => `  ${v.id} (${v.impact}): ${v.help} — ${v.targets.join(', ')}`);
  throw new Error(`axe-core found ${violations.length} problem(s) on ${label}:\n${lines.join('\n')}`);
}
