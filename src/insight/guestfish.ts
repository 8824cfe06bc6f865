/**
 * The fallback reader for file systems 7zz cannot read (XFS, btrfs, LVM:
 * RHEL-family and openSUSE images): libguestfs boots its small appliance
 * (TCG, never nested KVM, which can hang), finds the guest's OS and mounts
 * it read-only, and guestfish answers one question at a time over its
 * remote socket. Slow to start (about 25 s here) and about 800 MiB, so only
 * used when the fast reader found no operating system, and only when
 * `[glimpse_insight] libguestfs_fallback` is on.
 *
 * Paths are resolved by libguestfs inside the guest; every command is
 * prefixed with `-` so that a missing path is an answer, not the end of the
 * session; the whole session has one deadline.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { GuestTree } from './guest-fs.js';
import { Unreadable } from './seven-zip.js';

const GUESTFISH = '/usr/bin/guestfish';
const ENV = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8', LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg', HOME: '/tmp' };
/** qemu's names for the containers 7zz names. */
const FORMAT: Record<string, string> = { QCOW: 'qcow2', VMDK: 'vmdk', VHD: 'vpc', VHDX: 'vhdx', VDI: 'vdi' };

export function libguestfsInstalled(): boolean {
  return existsSync(GUESTFISH);
}

interface Answer {
  code: number | null;
  stdout: Buffer;
}

function run(args: string[], deadline: number, maxBytes = 16 * 1024 * 1024): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const child = spawn(GUESTFISH, args, { stdio: ['ignore', 'pipe', 'ignore'], env: ENV });
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, deadline - Date.now()));
    child.stdout.on('data', (d: Buffer) => {
      if (length < maxBytes) chunks.push(d);
      length += d.length;
    });
    child.on('error', (err) => reject(new Unreadable(`guestfish could not run: ${err.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (Date.now() >= deadline) return reject(new Unreadable('libguestfs took longer than its deadline'));
      resolve({ code, stdout: Buffer.concat(chunks).subarray(0, maxBytes) });
    });
  });
}

/** A guest mounted by libguestfs; `close()` ends the appliance. */
export class GuestfishTree implements GuestTree {
  readonly type = 'libguestfs';

  private constructor(
    private readonly pid: string,
    private readonly deadline: number,
  ) {}

  /** Starts the appliance on `file` (`container`: 7zz's name for its outer level) and mounts the guest it finds. */
  static async open(file: string, container: string, timeoutSeconds: number): Promise<GuestfishTree> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const format = FORMAT[container] ?? 'raw';
    const started = await run(['--listen', '--ro', `--format=${format}`, '-a', file, '-i'], deadline);
    const pid = /GUESTFISH_PID=(\d+)/.exec(started.stdout.toString())?.[1];
    if (started.code !== 0 || !pid) throw new Unreadable('libguestfs found no operating system to mount');
    return new GuestfishTree(pid, deadline);
  }

  private async ask(command: string, ...args: string[]): Promise<Answer> {
    return run([`--remote=${this.pid}`, '--', `-${command}`, ...args], this.deadline);
  }

  private async line(command: string, path: string): Promise<string> {
    return (await this.ask(command, path)).stdout.toString().trim();
  }

  async exists(p: string): Promise<boolean> {
    return (await this.line('exists', `/${p}`)) === 'true';
  }

  async isDir(p: string): Promise<boolean> {
    return (await this.ask('is-dir', `/${p}`, 'followsymlinks:true')).stdout.toString().trim() === 'true';
  }

  async list(dir: string): Promise<string[]> {
    const out = await this.line('ls', `/${dir}`);
    return out ? out.split('\n') : [];
  }

  async read(p: string, maxBytes = 1024 * 1024): Promise<Buffer | null> {
    if (!(await this.exists(p)) || (await this.isDir(p))) return null;
    return (await run([`--remote=${this.pid}`, '--', '-download-offset', `/${p}`, '-', '0', String(maxBytes)], this.deadline, maxBytes)).stdout;
  }

  async text(p: string): Promise<string | null> {
    return (await this.read(p))?.toString('utf8') ?? null;
  }

  async copy(p: string, target: string, maxBytes: number): Promise<boolean> {
    if (!(await this.exists(p)) || (await this.isDir(p))) return false;
    const size = Number(await this.line('filesize', `/${p}`));
    if (!Number.isSafeInteger(size) || size > maxBytes) return false;
    return (await this.ask('download', `/${p}`, target)).code === 0;
  }

  /** The file systems libguestfs found, by partition number of the first disk (`/dev/sda1: xfs` → 1 → xfs). */
  async fileSystems(): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    for (const line of (await this.ask('list-filesystems')).stdout.toString().split('\n')) {
      const m = /^\/dev\/sda(\d+): (\S+)$/.exec(line.trim());
      if (m) found.set(Number(m[1]), m[2]);
    }
    return found;
  }

  /** Ends the appliance; a session past its deadline is killed. */
  async close(): Promise<void> {
    await run([`--remote=${this.pid}`, '--', 'exit'], Math.max(this.deadline, Date.now() + 10_000)).catch(() => undefined);
    try {
      process.kill(Number(this.pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
