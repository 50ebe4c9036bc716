import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium (`apt-get install chromium`), never a downloaded one. --no-sandbox because CI
 * runs as root; the networking flags keep it from calling home on a machine with no network.
 */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Journeys save full-page screenshots here (git-ignored) for people to review. */
export const SCREENSHOTS = path.resolve('test-results/screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A phone's width (an iPhone 12–15): every page must work at it. */
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/**
 * Saves `<name>-desktop.png` and `<name>-390.png` of the page as it is now, then restores the
 * viewport it had. At phone width it also fails when the page scrolls sideways: something is wider
 * than the screen (a table, a nav, a long token) and would be cut off.
 */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  const before = page.viewportSize() ?? DESKTOP;
  await page.setViewportSize(DESKTOP);
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  await screenshot(page, `${name}-390`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.setViewportSize(before);
  if (overflow > 0) throw new Error(`${name} is ${overflow}px wider than a 390px screen`);
}

/**
 * After "Create account": the page says "Check your inbox" with the address (sign-up never signs in
 * by itself, and answers the same for a registered address); the person goes to sign in, types the
 * email and password and lands on the dashboard (the address not yet verified).
 */
export async function signInAfterSignUp(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
  await page.getByText(email.toLowerCase()).waitFor();
  await page.getByRole('link', { name: 'Go to sign in' }).click();
  await page.waitForURL(`${baseUrl}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${baseUrl}/dashboard`);
}
