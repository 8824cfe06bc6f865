/**
 * External tools the suites drive (the real `openstack` CLI, qemu-img …).
 * A missing tool skips its suite with a clear message, unless
 * GLIMPSE_REQUIRE_ALL=1 (CI), where a missing tool fails the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');

export function requireTool(name: string, check: () => boolean, install: string): string | false {
  if (check()) return false;
  const message = `${name} is not available (${install}); skipping`;
  if (process.env.GLIMPSE_REQUIRE_ALL === '1') throw new Error(`${message} is not allowed: GLIMPSE_REQUIRE_ALL=1`);
  process.stderr.write(`SKIP: ${message}\n`);
  return message;
}

/** Debian's openstackclient runs on /usr/bin/python3, whatever python3 is first on PATH. */
export const OPENSTACK = '/usr/bin/openstack';

export function openstackSkip(): string | false {
  return requireTool(
    'the openstack CLI',
    () => existsSync(OPENSTACK) && spawnSync(OPENSTACK, ['--version'], { encoding: 'utf8' }).status === 0,
    'apt-get install python3-openstackclient',
  );
}

export function sharedSkip(file: string): string | false {
  return requireTool(`../shared/${file}`, () => existsSync(path.join(SHARED_DIR, file)), 'the shared/ folder beside the repository');
}

/** The machine's PostgreSQL, for suites that need one whatever GLIMPSE_TEST_DB says (asked in a child process: skips are decided synchronously). */
export function postgresSkip(): string | false {
  return serverSkip('postgres', 'PostgreSQL on 127.0.0.1:5432');
}

/** The machine's MariaDB, likewise. */
export function mysqlSkip(): string | false {
  return serverSkip('mysql', 'MariaDB on 127.0.0.1:3306');
}

function serverSkip(dialect: 'postgres' | 'mysql', name: string): string | false {
  return requireTool(
    name,
    () => spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'probe-db.js'), dialect]).status === 0,
    `the machine's ${name.split(' ')[0]} service`,
  );
}

/** How many bytes of a file the page cache holds (fincore, util-linux). */
export function pageCacheBytes(file: string): number {
  return Number(spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).stdout.trim());
}

/**
 * Waits until more than `bytes` of `file` are in the page cache at once.
 * Not "all of it": the test machines keep their page cache near 2.4 GiB
 * however much memory is free, so a file's pages start to go within seconds
 * while other suites write.
 */
export async function waitForCached(file: string, bytes: number, timeoutMs = 30_000): Promise<void> {
  let most = 0;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
    most = Math.max(most, pageCacheBytes(file));
    if (most > bytes) return;
  }
  throw new Error(`at most ${most} bytes of ${file} were in the page cache, never more than ${bytes}`);
}
