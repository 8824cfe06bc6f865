#!/usr/bin/env node
// Runs the compiled test files with Node's test runner: everything on SQLite,
// and the integration suites (test/api) again on PostgreSQL and on
// MySQL/MariaDB. The three passes run at once, each with several test files
// at a time (GLIMPSE_TEST_CONCURRENCY, default 3): most of a suite's time is
// spent waiting on sockets, databases and child processes, not on the CPU.
// Each suite is reported in one line as it ends, and each pass's full
// report is printed whole when the pass ends. A suite whose tool or
// database is absent is skipped with a message; GLIMPSE_REQUIRE_ALL=1 (set by
// CI) turns those skips into failures.
// Test databases carry this run's id and are dropped at the end, whatever
// failed. The last line counts every test: passed, failed and skipped (whole
// suites skipped for a missing tool or database included).
//   node scripts/run-tests.mjs [part-of-path]      GLIMPSE_TEST_DIALECTS=sqlite,postgres,mysql
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = path.join(root, 'dist', 'test');
const filter = process.argv[2];
const dialects = (process.env.GLIMPSE_TEST_DIALECTS ?? 'sqlite,postgres,mysql').split(',');
const requireAll = process.env.GLIMPSE_REQUIRE_ALL === '1';
const run = String(process.pid);
const concurrency = Number(process.env.GLIMPSE_TEST_CONCURRENCY ?? 3);

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

const totals = { pass: 0, fail: 0, skipped: 0, skippedSuites: 0 };

/** Runs node --test on one dialect, keeping its report to print whole, and counting what it reports. */
function runSuites(files, dialect) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GLIMPSE_TEST_DB: dialect, GLIMPSE_TEST_RUN: run },
    });
    let report = '';
    const count = (stream) => {
      let pending = '';
      stream.on('data', (chunk) => {
        report += chunk;
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) {
          // Live progress: each top-level suite as it ends (the full report follows at the pass's end).
          if (/^(✔|✖|﹣) /.test(line)) process.stdout.write(`[${dialect}] ${line}\n`);
          const m = /^ℹ (pass|fail|skipped) (\d+)$/.exec(line.trim());
          if (m) totals[m[1]] += Number(m[2]);
          if (line.startsWith('SKIP: ')) totals.skippedSuites += 1;
        }
      });
    };
    count(child.stdout);
    count(child.stderr);
    child.on('close', (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      process.stdout.write(`\n=== ${files.length} test files on ${dialect} (${seconds} s)\n\n${report}`);
      resolve(code);
    });
  });
}

const all = find(testRoot).filter((f) => !filter || f.includes(filter)).sort();
const startedAll = Date.now();
let failed = false;
const passes = [];
for (const dialect of dialects) {
  const files = dialect === 'sqlite' ? all : all.filter((f) => f.includes(`${path.sep}api${path.sep}`));
  if (files.length === 0) continue;
  if (dialect !== 'sqlite') {
    const probe = spawnSync(process.execPath, [path.join(testRoot, 'helpers', 'probe-db.js'), dialect], { cwd: root });
    if (probe.status !== 0) {
      const message = `the ${dialect} server is not reachable (see GLIMPSE_TEST_${dialect.toUpperCase()})`;
      if (requireAll) {
        console.error(`FAIL: ${message}, and GLIMPSE_REQUIRE_ALL=1 allows no skips`);
        failed = true;
      } else {
        console.error(`SKIP: ${message}; skipping its ${files.length} suites`);
        totals.skippedSuites += files.length;
      }
      continue;
    }
  }
  passes.push(runSuites(files, dialect).then((code) => {
    if (code !== 0) failed = true;
  }));
}
await Promise.all(passes);
spawnSync(process.execPath, [path.join(testRoot, 'helpers', 'drop-run-databases.js'), run], { cwd: root, stdio: 'inherit' });
console.log(`\nsuites skipped for a missing tool or database: ${totals.skippedSuites}`);
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped (${Math.round((Date.now() - startedAll) / 1000)} s)`);
process.exit(failed ? 1 : 0);
