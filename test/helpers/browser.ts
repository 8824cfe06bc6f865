/**
 * Debian's Chromium driven by playwright-core, for the dashboard's end-to-end
 * tests; screenshots go to artifacts/dashboard/ at the repository root.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { REPO_ROOT, requireTool } from './tools.js';

const CHROMIUM = process.env.GLIMPSE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'dashboard');

export function chromiumSkip(): string | false {
  return requireTool('Chromium', () => existsSync(CHROMIUM), 'apt-get install chromium');
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Console errors and uncaught exceptions of a page: the tests require none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
