/** `npm run bench`: prints figures; targets are read by people, not asserted. */
import { cpus, totalmem } from 'node:os';
import { apiBenchmarks } from './api.js';
import { cacheBenchmarks, printCacheTable } from './cache.js';
import { compareWithGlance } from './compare.js';
import { dashboardBenchmarks } from './dashboard.js';
import { dataBenchmarks, printDataTable } from './data.js';
import { printTable, startBenchServer } from './harness.js';
import { insightBenchmarks } from './insight.js';
import { printRbdTable, rbdBenchmarks } from './rbd.js';
import { scaleBenchmarks } from './scale.js';
import { soak } from './soak.js';

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(`Glimpse benchmarks — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
  if (!only || only === 'api') {
    const server = await startBenchServer();
    try {
      const results = await apiBenchmarks(server);
      printTable(`Images API records (SQLite, noauth, server RSS ${(server.rss() / 2 ** 20).toFixed(0)} MiB)`, results);
    } finally {
      await server.stop();
    }
  }
  if (!only || only === 'dashboard') {
    const server = await startBenchServer();
    try {
      printTable('Dashboard in Chromium (SQLite, noauth, 1,000 images, a new page each time)', await dashboardBenchmarks(server));
    } finally {
      await server.stop();
    }
  }
  if (!only || only === 'scale') {
    printTable('Listing at scale (PostgreSQL, 1,000,000 images, noauth admin, sequential requests)', await scaleBenchmarks());
  }
  // Long (glance-api creates 10,000 images at ~40 a second): only when asked for by name.
  if (only === 'compare') await compareWithGlance();
  // Long and destructive (it kills nodes): only when asked for by name.
  if (only === 'soak' && !(await soak())) process.exitCode = 1;
  if (!only || only === 'data') {
    const server = await startBenchServer();
    try {
      printDataTable(await dataBenchmarks(server, [2 ** 30, 4 * 2 ** 30]));
    } finally {
      await server.stop();
    }
  }
  if (!only || only === 'cache') {
    const rows = await cacheBenchmarks(2 ** 30);
    if (rows) printCacheTable(rows);
  }
  if (!only || only === 'insight') await insightBenchmarks();
  if (!only || only === 'rbd') {
    const rows = await rbdBenchmarks(2 ** 30);
    if (rows) printRbdTable(rows);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
