#!/usr/bin/env node
// Runs the compiled test files with Node's test runner: everything on SQLite,
// then the integration suites (test/api) again on PostgreSQL and on
// MySQL/MariaDB. A suite whose tool or database is absent is skipped with a
// message; GLIMPSE_REQUIRE_ALL=1 (set by CI) turns those skips into failures.
//   node scripts/run-tests.mjs [part-of-path]      GLIMPSE_TEST_DIALECTS=sqlite,postgres,mysql
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = path.join(root, 'dist', 'test');
const filter = process.argv[2];
const dialects = (process.env.GLIMPSE_TEST_DIALECTS ?? 'sqlite,postgres,mysql').split(',');
const requireAll = process.env.GLIMPSE_REQUIRE_ALL === '1';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

const all = find(testRoot).filter((f) => !filter || f.includes(filter)).sort();
let failed = false;
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
      }
      continue;
    }
  }
  console.log(`\n=== ${files.length} test files on ${dialect}\n`);
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, GLIMPSE_TEST_DB: dialect },
  });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
