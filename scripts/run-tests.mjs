#!/usr/bin/env node
// Runs every compiled test file with Node's test runner. Suites that need a
// tool that is absent skip themselves with a message; GLIMPSE_REQUIRE_ALL=1
// (set by CI) turns those skips into failures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = path.join(root, 'dist', 'test');
const filter = process.argv[2];

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = find(testRoot).filter((f) => !filter || f.includes(filter)).sort();
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
