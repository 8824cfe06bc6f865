/**
 * Reading a guest's disk without booting it: 7-Zip (`7zz`, Debian's `7zip`)
 * opens the container (qcow2, VMDK, VHD, VDI, raw), the partition table and
 * the file system (ext2/3/4, NTFS, FAT …) in userspace.
 *
 * The disk is hostile input to a C++ parser, so every run is fenced: an
 * address-space and CPU limit (prlimit), a wall-clock timeout that kills it,
 * a cap on what it may print, wildcards and list files switched off (a path
 * from inside the guest is matched literally, never as `*` or `@file`), and
 * nothing is ever extracted to a directory — files come out on stdout, so a
 * symlink in the guest can never point a write at the host.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface ReaderLimits {
  /** Wall-clock seconds for one 7zz run. */
  timeoutSeconds: number;
  /** Address space of one 7zz run, in bytes. */
  memoryBytes: number;
  /** Ends every run at once (the server is closing). */
  signal?: AbortSignal;
}

/** One level of what 7zz opened, outermost first: the container, the partition table, the file system. */
export interface Level {
  type: string;
  props: Record<string, string>;
  /** What this level holds that the next level opened (a lone partition, the disk inside a container). */
  item?: Record<string, string>;
}

/** A file, directory, symlink or partition of the innermost level. */
export interface Entry {
  path: string;
  size: number | null;
  dir: boolean;
  /** A symlink's target, as stored. */
  link?: string;
  /** A partition's type (`EFI System`, `Linux Data`, `BIOS Boot` …). */
  fileSystem?: string;
  offset?: number;
}

export interface Listing {
  levels: Level[];
  entries: Entry[];
}

/** Raised when 7zz cannot open the data as anything it knows. */
export class Unreadable extends Error {}

const SEVEN_ZIP = ['/usr/bin/7zz', '/usr/local/bin/7zz'];
const PRLIMIT = '/usr/bin/prlimit';
/** Fixed switches: answer no to every prompt, no wildcards, UTF-8 names. */
const COMMON = ['-y', '-spd', '-sccUTF-8', '-bd'];

export function sevenZipPath(): string | null {
  return SEVEN_ZIP.find((p) => existsSync(p)) ?? null;
}

/** The fenced command line for a 7zz run. */
function command(args: string[], limits: ReaderLimits, cpuSeconds = limits.timeoutSeconds): [string, string[]] {
  const binary = sevenZipPath();
  if (!binary) throw new Unreadable('7zz (Debian package 7zip) is not installed');
  const run = [binary, ...args];
  if (!existsSync(PRLIMIT)) return [run[0], run.slice(1)];
  return [PRLIMIT, [`--as=${limits.memoryBytes}`, `--cpu=${Math.ceil(cpuSeconds)}`, '--core=0', '--', 'nice', '-n', '10', ...run]];
}

function start(args: string[], limits: ReaderLimits) {
  const [file, argv] = command(args, limits);
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return; // gone: its group id may be another's by now
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, limits.timeoutSeconds * 1000);
  let timedOut = false;
  limits.signal?.addEventListener('abort', kill, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new Unreadable(`7zz could not run: ${err.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', kill);
      if (limits.signal?.aborted) return reject(new Unreadable('stopped: the server is closing'));
      if (timedOut) return reject(new Unreadable(`7zz took longer than ${limits.timeoutSeconds} s`));
      if (code === 0) return resolve();
      reject(new Unreadable(explain(stderr) ?? `7zz ended with ${signal ?? `code ${code}`}`));
    });
  });
  done.catch(() => undefined); // awaited by the caller, unless it gave up on the run first
  return { stdout: child.stdout as Readable, done, kill };
}

/** 7zz's own words for why it could not open something, without its banner. */
function explain(stderr: string): string | null {
  // "ERROR: /scratch/partition-0.img : Cannot open the file as archive": the reason, without our own paths.
  const lines = stderr.split('\n').map((l) => l.trim().replace(/^(ERROR|WARNING): .* : /, '')).filter((l) => l && !/^(ERROR|ERRORS|System ERROR):?$/.test(l));
  return lines.length ? lines.slice(-2).join(' ').slice(0, 300) : null;
}

/** The levels and entries of `file`, read line by line: `maxEntries` bounds the memory a huge file system can take. */
export async function list(file: string, limits: ReaderLimits, maxEntries: number): Promise<Listing> {
  const run = start(['l', '-slt', ...COMMON, '--', file], limits);
  const levels: Level[] = [];
  const entries: Entry[] = [];
  let block: Record<string, string> = {};
  let inEntries = false;
  let inLevelItem = false;
  const flush = () => {
    if (!Object.keys(block).length) return;
    if (inEntries) {
      if (entries.length >= maxEntries) {
        run.kill();
        throw new Unreadable(`more than ${maxEntries} entries`);
      }
      entries.push(toEntry(block));
    } else if (inLevelItem && levels.length) levels[levels.length - 1].item = block;
    else if (block.Type) levels.push({ type: block.Type, props: block });
    block = {};
  };
  for await (const line of createInterface({ input: run.stdout, crlfDelay: Infinity })) {
    if (line === '----------') {
      flush();
      inEntries = true;
    } else if (line === '--' && !inEntries) {
      flush();
      inLevelItem = false;
    } else if (line === '----' && !inEntries) {
      flush();
      inLevelItem = true; // the entry that led into the next level
    } else if (line === '') {
      if (inEntries) flush();
    } else {
      const eq = line.indexOf(' = ');
      if (eq > 0) block[line.slice(0, eq)] = line.slice(eq + 3);
    }
  }
  flush();
  // 7zz fails the whole run when the innermost thing it tried to open was broken (say a gzip stream it
  // found inside a file system it cannot read); the outer levels it listed still stand.
  const failure = await run.done.then(() => null, (err: unknown) => err);
  if (!levels.length) throw failure ?? new Unreadable('not a disk image 7zz can open');
  return { levels, entries };
}

function toEntry(b: Record<string, string>): Entry {
  const link = b['Symbolic Link'] || (b.Mode?.startsWith('l') ? '' : undefined);
  const size = b.Size === undefined || b.Size === '' ? null : Number(b.Size);
  const dir = !link && (b.Folder === '+' || b.Attributes?.startsWith('D') === true || b.Mode?.startsWith('d') === true);
  return {
    path: b.Path ?? '',
    size: Number.isFinite(size) ? size : null,
    dir,
    ...(link !== undefined ? { link } : {}),
    ...(b['File System'] ? { fileSystem: b['File System'] } : {}),
    ...(b.Offset ? { offset: Number(b.Offset) } : {}),
  };
}

/**
 * One file of `file`'s innermost level, at most `maxBytes` of it; with
 * `type` (qcow, vmdk …), the data of that outer level instead (`path` '').
 */
export async function read(file: string, path: string, limits: ReaderLimits, maxBytes: number, type?: string): Promise<Buffer> {
  const run = start(['e', '-so', ...COMMON, ...(type ? [`-t${type}`] : []), '--', file, ...(path ? [path] : [])], limits);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of run.stdout) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= maxBytes) {
      run.kill();
      break;
    }
  }
  await run.done.catch((err) => {
    if (length < maxBytes) throw err;
  });
  return Buffer.concat(chunks).subarray(0, maxBytes);
}

/**
 * Copies one entry (a partition) of `file` into `target` as a sparse file:
 * a partition must be a file of its own for 7zz to open the file system
 * inside it. Runs of zeros are skipped, not written, so the copy costs the
 * partition's data, not its size. The caller bounds its size first.
 */
export async function extract(file: string, path: string, target: string, limits: ReaderLimits): Promise<void> {
  // The target first: output a child wrote before its stdout is read is dropped once it exits (Node resumes unread stdio then).
  const out = await open(target, 'wx');
  let run: ReturnType<typeof start> | undefined;
  try {
    run = start(['e', '-so', ...COMMON, '--', file, path], limits);
    let position = 0;
    for await (const chunk of run.stdout as AsyncIterable<Buffer>) {
      if (!isZero(chunk)) await out.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    }
    await run.done;
    await out.truncate(position);
  } finally {
    run?.kill();
    await out.close();
  }
}

const ZEROS = Buffer.alloc(1024 * 1024);
function isZero(chunk: Buffer): boolean {
  for (let at = 0; at < chunk.length; at += ZEROS.length) {
    const part = chunk.subarray(at, at + ZEROS.length);
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}
