/**
 * Guest disk images for the insight suites, built from Debian's packages by
 * test/fixtures/make-guests.sh (debootstrap; never a downloaded image): once
 * per machine and script version, under a lock, since suites run in parallel.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type Identity, identityHeaders } from './client.js';
import { REPO_ROOT, requireTool } from './tools.js';

const SCRIPT = path.join(REPO_ROOT, 'test', 'fixtures', 'make-guests.sh');
const TOOLS: [string, string][] = [['debootstrap', 'debootstrap'], ['7zz', '7zip'], ['mkfs.vfat', 'dosfstools'], ['mcopy', 'mtools'], ['mkfs.xfs', 'xfsprogs'], ['virt-make-fs', 'libguestfs-tools libguestfs-xfs linux-image-amd64'], ['mkntfs', 'ntfs-3g'], ['hivexregedit', 'libhivex-bin'], ['qemu-img', 'qemu-utils'], ['sfdisk', 'fdisk']];

/** Skips (with a message) unless this is root with every tool the script and the reader need. */
export function guestsSkip(): string | false {
  const root = requireTool('root (debootstrap and chroot build the guests)', () => process.getuid?.() === 0, 'run the tests as root');
  if (root) return root;
  for (const [tool, pkg] of TOOLS) {
    const skip = requireTool(tool, () => spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status === 0, `apt-get install ${pkg}`);
    if (skip) return skip;
  }
  return false;
}

/** The directory of built guests (building them the first time: a few minutes). */
export function guestsDir(): string {
  const version = createHash('sha1').update(readFileSync(SCRIPT)).digest('hex').slice(0, 12);
  const dir = `/var/tmp/glimpse-guests-${version}`;
  const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
  const run = spawnSync('flock', ['/var/tmp/glimpse-guests.lock', 'bash', SCRIPT, dir], { encoding: 'utf8', env });
  if (run.status !== 0) throw new Error(`make-guests.sh failed:\n${run.stderr.slice(-3000)}`);
  return dir;
}

/** Uploads a file to an image, streamed (these images are hundreds of MiB). */
export async function uploadFile(url: string, id: string, file: string, as: Identity | null = null): Promise<number> {
  const res = await fetch(`${url}/v2/images/${id}/file`, {
    method: 'PUT',
    headers: { ...identityHeaders(as), 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) },
    body: Readable.toWeb(createReadStream(file, { highWaterMark: 1024 * 1024 })) as unknown as BodyInit,
    duplex: 'half',
  } as RequestInit);
  await res.arrayBuffer();
  return res.status;
}
