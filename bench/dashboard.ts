/**
 * Dashboard benchmark: with 1,000 images in the server, the time from the
 * start of the navigation to the images page (the page's own clock,
 * performance.now()) to its first page of rows on screen, in a fresh tab of
 * Debian's Chromium each time (HTML, script, config, schema and list
 * requests, rendering), for the default page of 25 and for all 1,000. The
 * browser's own cost of opening a tab is not counted.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { type BenchServer, type Result, call, measure } from './harness.js';

const CHROMIUM = process.env.GLIMPSE_CHROMIUM ?? '/usr/bin/chromium';

export async function dashboardBenchmarks(server: BenchServer, count = 1000): Promise<Result[]> {
  if (!existsSync(CHROMIUM)) {
    console.log(`  skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
    return [];
  }
  await measure(`create ${count} images`, count, 8, async (i) => {
    await call(`${server.url}/v2/images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${String(i).padStart(4, '0')}`, disk_format: 'qcow2', container_format: 'bare', os_distro: 'debian' }),
    });
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    /** Milliseconds from navigation start to `rows` rows in the table. */
    const open = async (query: string, rows: number): Promise<number> => {
      const page = await browser.newPage();
      try {
        await page.goto(`${server.url}/dashboard/#/images?${query}`, { waitUntil: 'commit' });
        const shown = await page.waitForFunction(
          (n) => (document.querySelectorAll('table.images tbody tr').length === n ? performance.now() : false),
          rows,
          { polling: 'raf' },
        );
        return (await shown.jsonValue()) as number;
      } finally {
        await page.close();
      }
    };
    await open('limit=25', 25); // warm-up: Chromium's first page and the server's JIT
    const inPage = async (name: string, total: number, query: string, rows: number): Promise<Result> => {
      const times: number[] = [];
      const result = await measure(name, total, 1, async () => {
        times.push(await open(query, rows));
      });
      times.sort((a, b) => a - b);
      const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
      return { ...result, p50: pct(50), p99: pct(99), extra: `tab opened and closed in ${result.p50.toFixed(0)} ms (p50)` };
    };
    return [
      await inPage('images page, first 25 rows on screen', 20, 'limit=25', 25),
      await inPage(`images page, ${count} rows on screen`, 10, `limit=${count}`, count),
    ];
  } finally {
    await browser.close();
  }
}
