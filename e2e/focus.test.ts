import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// Keyboard focus in real Chromium: every kind of form field (text, email, password, url,
// select, textarea) shows a visible ring when reached with the keyboard, as buttons and links do.

const PASSWORD = 'correct horse battery';

interface Look {
  outlineStyle: string;
  outlineWidth: string;
  outlineColor: string;
  boxShadow: string;
  borderColor: string;
}

/** The field's computed look: what can show focus. */
function lookOf(page: Page, selector: string): Promise<Look> {
  return page.locator(selector).evaluate((el) => {
    const s = getComputedStyle(el);
    return {
      outlineStyle: s.outlineStyle,
      outlineWidth: s.outlineWidth,
      outlineColor: s.outlineColor,
      boxShadow: s.boxShadow,
      borderColor: s.borderTopColor,
    };
  });
}

/** A ring someone can see: an outline at least 2px wide, or a box-shadow it did not have before. */
function showsFocus(focused: Look, resting: Look): boolean {
  const outline = focused.outlineStyle !== 'none' && Number.parseFloat(focused.outlineWidth) >= 2;
  const ring = focused.boxShadow !== 'none' && focused.boxShadow !== resting.boxShadow;
  return outline || ring;
}

describe('Visible keyboard focus in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;

  before(async () => {
    server = await startTestServer();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
  });

  /**
   * Reaches each field with the keyboard (Tab from the element before it, so `:focus-visible`
   * applies the way it does for a keyboard user) and compares its look focused and at rest.
   */
  async function assertVisibleFocus(page: Page, path: string, selectors: string[]): Promise<void> {
    await page.goto(`${server.url}${path}`);
    for (const selector of selectors) {
      const field = page.locator(selector);
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const resting = await lookOf(page, selector);
      await field.focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      assert.equal(
        await field.evaluate((el) => el === document.activeElement && el.matches(':focus-visible')),
        true,
        `${path} ${selector} is focused from the keyboard`,
      );
      const focused = await lookOf(page, selector);
      assert.ok(
        showsFocus(focused, resting),
        `${path} ${selector}: no visible focus ring\n  at rest: ${JSON.stringify(resting)}\n` +
          `  focused: ${JSON.stringify(focused)}`,
      );
    }
  }

  it('text, email, password, url, select and textarea fields show a focus ring', async () => {
    const email = 'focus@example.com';
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const context = await chromium.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      await assertVisibleFocus(page, '/signup', ['#name', '#email', '#password']);
      // Buttons and links too, so every control is covered, not only fields.
      await assertVisibleFocus(page, '/login', ['#email', '#password', 'button[type="submit"]', 'a[href="/signup"]']);

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/dashboard`);

      await assertVisibleFocus(page, '/settings/api-keys/new', ['#name', '#allowed_ips']);
      await assertVisibleFocus(page, '/settings/applications/new', ['#name', '#type', '#redirect_uris']);
      await assertVisibleFocus(page, '/settings/webhooks/new', ['#url', '#description']);
    } finally {
      await context.close();
    }
  });
});
