/**
 * The single-node Ceph of ../shared/ceph (cephx user `glance`, pool `images`),
 * for the RBD store suites, and the `rbd` CLI as glance to look at what a
 * store wrote and to clone images as Nova does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED_DIR, requireTool } from './tools.js';

const TEST_DIR = process.env.CEPH_TEST_DIR ?? '/var/tmp/ceph-test';
export const CEPH_CONF = path.join(TEST_DIR, 'ceph.conf');
export const CEPH_USER = 'glance';
export const CEPH_POOL = 'images';

export function cephSkip(): string | false {
  return requireTool(
    'the test Ceph cluster',
    () => existsSync(CEPH_CONF) && rbdTool(['ls', CEPH_POOL]).status === 0,
    `bash ${path.join(SHARED_DIR, 'ceph', 'setup.sh')} --start`,
  );
}

export function cephFsid(): string {
  return /^\s*fsid\s*=\s*(\S+)/m.exec(readFileSync(CEPH_CONF, 'utf8'))![1];
}

function rbdTool(args: string[]) {
  return spawnSync('rbd', ['--id', CEPH_USER, '--conf', CEPH_CONF, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** Runs `rbd --id glance <args>`; throws with its stderr when it fails. */
export function rbd(...args: string[]): string {
  const run = rbdTool(args);
  if (run.status !== 0) throw new Error(`rbd ${args.join(' ')} failed: ${run.stderr || run.error?.message}`);
  return run.stdout;
}

/** The images of the test pool. */
export function rbdImages(): string[] {
  return JSON.parse(rbd('ls', '--format', 'json', CEPH_POOL)) as string[];
}

/** The snapshots of an image, with whether each is protected. */
export function rbdSnapshots(image: string): { name: string; protected: string }[] {
  return JSON.parse(rbd('snap', 'ls', '--format', 'json', `${CEPH_POOL}/${image}`)) as { name: string; protected: string }[];
}

/** `[section]` lines of an rbd store on the test cluster. */
export function rbdStoreIni(section: string, extra: string[] = []): string[] {
  return [`[${section}]`, `rbd_store_pool = ${CEPH_POOL}`, `rbd_store_user = ${CEPH_USER}`, `rbd_store_ceph_conf = ${CEPH_CONF}`, 'rbd_store_chunk_size = 8', ...extra, ''];
}
