#!/usr/bin/env node
// Makes a fresh clone runnable: installs dependencies when they are missing or
// stale, and builds (the server's TypeScript, the dashboard with Vite) when any
// source is newer than the build.
// Uses only Node's built-ins, since it runs before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const run = (cmd) => {
  process.stderr.write(`glimpse: ${cmd}\n`);
  execSync(cmd, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
};

function newestIn(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(p) : mtime(p));
  }
  return newest;
}

const installed = path.join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(path.join(root, 'package.json')) > mtime(installed)) {
  run(existsSync(path.join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');
}

const stamp = path.join(root, 'dist', '.build-stamp');
const sources = Math.max(...['src', 'test', 'bench'].map((d) => newestIn(path.join(root, d))), mtime(path.join(root, 'tsconfig.json')));
if (sources > mtime(stamp)) {
  run('npm run --silent build');
  execSync(`touch ${JSON.stringify(stamp)}`);
}
