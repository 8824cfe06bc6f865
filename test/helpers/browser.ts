/**
 * Debian's Chromium driven by playwright-core, for the dashboard's end-to-end
 * tests; screenshots go to artifacts/dashboard/ at the repository root.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
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

/** A fresh page that gives up on any wait after 10 s, with its console errors collected. */
export async function openPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(10_000);
  return { page, errors: watchErrors(page) };
}

/** A raw disk image for uploads: a repeating, non-zero pattern that is no other format's signature. */
export function rawDiskFile(dir: string, bytes: number): string {
  const file = path.join(dir, 'disk.raw');
  writeFileSync(file, Buffer.alloc(bytes, 'glimpse-raw-disk '));
  return file;
}

/** Slows the page's uploads to `bytesPerSecond` through the DevTools protocol, so progress can be watched; resolves with the undo. */
export async function throttleUploads(page: Page, bytesPerSecond: number): Promise<() => Promise<void>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const limit = (uploadThroughput: number) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
  await limit(bytesPerSecond);
  return async () => {
    await limit(-1);
    await cdp.detach();
  };
}
