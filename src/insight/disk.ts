/**
 * Opening a guest disk: its partition table, each partition's kind, and the
 * file systems 7zz can read. A partition is copied out (sparse) only when
 * the disk holds more than one: 7zz opens a lone partition's file system in
 * place, but cannot be pointed at one of several.
 */
import { mkdir, mkdtemp, open as openFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { GuestFs, type GuestTree } from './guest-fs.js';
import { GuestfishTree, libguestfsInstalled } from './guestfish.js';
import { type Entry, type Level, type Listing, type ReaderLimits, Unreadable, extract, list, read } from './seven-zip.js';

export interface DiskLimits extends ReaderLimits {
  /** When 7zz finds no OS behind a file system it cannot read (XFS, btrfs, LVM): the seconds libguestfs may take instead; null: no fallback. */
  libguestfsSeconds: number | null;
  /** The largest partition copied out to be read. */
  maxPartitionBytes: number;
  /** The most entries (files) one file system may list. */
  maxEntries: number;
}

export interface Partition {
  index: number;
  /** The partition table's name for its type (EFI System, BIOS Boot, Linux Data …). */
  kind: string;
  size: number | null;
  /** The file system 7zz found in it, or why none was read. */
  fileSystem: string | null;
  note?: string;
}

export interface Disk {
  /** GPT, MBR, or null for a file system with no partition table (or nothing known). */
  table: string | null;
  partitions: Partition[];
  fileSystems: GuestTree[];
  /** The first 440 bytes: the BIOS boot code of an MBR or protective MBR. */
  bootCode: Buffer | null;
  /** A directory of this inspection's own, removed after it, for files copied out to be read in place. */
  scratch: string;
}

const CONTAINERS: Record<string, string> = { QCOW: 'qcow', VMDK: 'vmdk', VHD: 'vhd', VHDX: 'vhdx', VDI: 'vdi' };
const TABLES = new Set(['GPT', 'MBR', 'APM']);
/** What 7zz reads as a file system (its type names). */
const FILE_SYSTEMS = new Set(['Ext', 'NTFS', 'FAT', 'HFS', 'APFS', 'SquashFS', 'CramFS', 'Iso', 'Udf']);
/** Partition kinds that never hold a file system worth reading. */
const NO_FILE_SYSTEM = /BIOS Boot|swap|Extended|LVM|RAID|Empty/i;

/** Opens `file`; `work(dir)` runs while partitions copied out exist, which are removed after. */
export async function openDisk<T>(file: string, limits: DiskLimits, scratch: string, work: (disk: Disk) => Promise<T>): Promise<T> {
  await mkdir(scratch, { recursive: true });
  const dir = await mkdtemp(path.join(scratch, 'insight-'));
  let fallback: GuestfishTree | null = null;
  try {
    const listing = await list(file, limits, limits.maxEntries);
    const table = listing.levels.find((l) => TABLES.has(l.type))?.type ?? null;
    const bootCode = await firstSector(file, listing.levels[0], limits);
    const { partitions, fileSystems } = await contents(file, listing, limits, dir);
    fallback = await libguestfsFallback(file, listing.levels[0].type, partitions, fileSystems, limits);
    if (fallback) await nameFileSystems(fallback, partitions);
    return await work({ table, partitions, fileSystems: fallback ? [...fileSystems, fallback] : fileSystems, bootCode, scratch: dir });
  } finally {
    await fallback?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The partitions and the file systems 7zz reads in them. */
async function contents(file: string, listing: Listing, limits: DiskLimits, dir: string): Promise<{ partitions: Partition[]; fileSystems: GuestTree[] }> {
  const innermost = listing.levels[listing.levels.length - 1];
  if (TABLES.has(innermost.type)) return readPartitions(file, listing.entries, limits, dir);
  if (CONTAINERS[innermost.type] || innermost.type === 'Split') return { partitions: [], fileSystems: [] };
  // Behind a lone partition, or filling the disk: 7zz went on by itself. Only a file system it reads counts
  // (it may have found, say, a gzip stream inside a file system it cannot read).
  const lone = lonePartition(listing.levels, innermost.type);
  if (!FILE_SYSTEMS.has(innermost.type)) {
    if (lone) Object.assign(lone, { fileSystem: null, note: `no file system 7zz reads (it saw ${innermost.type})` });
    return { partitions: lone ? [lone] : [], fileSystems: [] };
  }
  return { partitions: lone ? [lone] : [], fileSystems: [new GuestFs(file, listing.entries, limits, innermost.type)] };
}

/** When 7zz could not read some partition and found no OS in the others: libguestfs, if configured and installed. */
async function libguestfsFallback(file: string, container: string, partitions: Partition[], read: GuestTree[], limits: DiskLimits): Promise<GuestfishTree | null> {
  if (limits.libguestfsSeconds === null || !libguestfsInstalled()) return null;
  if (!partitions.some((p) => p.note !== undefined && !/larger than/.test(p.note))) return null;
  for (const fs of read) if ((await fs.exists('usr/lib/os-release')) || (await fs.exists('etc/os-release'))) return null;
  return GuestfishTree.open(file, container, limits.libguestfsSeconds).catch((err: unknown) => {
    if (err instanceof Unreadable) return null;
    throw err;
  });
}

/** What libguestfs read where 7zz could not: the partitions say so. */
async function nameFileSystems(fallback: GuestfishTree, partitions: Partition[]): Promise<void> {
  const found = await fallback.fileSystems();
  for (const partition of partitions) {
    const type = found.get(partition.index + 1);
    if (!partition.note || !type || type === 'unknown') continue;
    partition.fileSystem = `${type} (read by libguestfs)`;
    delete partition.note;
  }
}

/** The partition 7zz stepped through to reach the file system, as its table describes it. */
function lonePartition(levels: Level[], fileSystem: string): Partition | null {
  const tableLevel = levels.findIndex((l) => TABLES.has(l.type));
  if (tableLevel < 0) return null;
  const item = levels[tableLevel].item ?? {};
  const size = Number(item.Size);
  return { index: 0, kind: item['File System'] ?? 'unknown', size: Number.isFinite(size) ? size : null, fileSystem };
}

async function readPartitions(file: string, entries: Entry[], limits: DiskLimits, dir: string) {
  const partitions: Partition[] = [];
  const fileSystems: GuestTree[] = [];
  for (const [index, entry] of entries.entries()) {
    const partition: Partition = { index, kind: entry.fileSystem ?? 'unknown', size: entry.size, fileSystem: null };
    partitions.push(partition);
    if (NO_FILE_SYSTEM.test(partition.kind)) continue;
    if ((entry.size ?? 0) > limits.maxPartitionBytes) {
      partition.note = `larger than the ${limits.maxPartitionBytes}-byte limit for reading`;
      continue;
    }
    const copy = path.join(dir, `partition-${index}.img`);
    try {
      await extract(file, entry.path, copy, limits);
      const inner = await list(copy, limits, limits.maxEntries);
      const type = inner.levels[inner.levels.length - 1].type;
      if (!FILE_SYSTEMS.has(type)) throw new Unreadable(`7zz saw ${type}, not a file system`);
      partition.fileSystem = type;
      fileSystems.push(new GuestFs(copy, inner.entries, limits, type));
    } catch (err) {
      if (!(err instanceof Unreadable)) throw err;
      partition.note = `${await signature(copy)}: ${err.message}`;
    }
  }
  return { partitions, fileSystems };
}

/** Names a file system 7zz does not read, by its magic number, so the report can say what it was. */
async function signature(file: string): Promise<string> {
  const handle = await openFile(file, 'r').catch(() => null);
  if (!handle) return 'unreadable';
  try {
    const head = Buffer.alloc(70_000);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (head.subarray(0, 4).toString('latin1') === 'XFSB') return 'xfs (not readable by 7zz)';
    if (bytesRead > 65_600 && head.subarray(65_536 + 64, 65_536 + 72).toString('latin1') === '_BHRfS_M') return 'btrfs (not readable by 7zz)';
    if (head.subarray(0, 8).toString('latin1') === 'LUKS\xba\xbe\x00\x01' || head.subarray(0, 6).toString('latin1') === 'LUKS\xba\xbe') return 'LUKS (encrypted)';
    if (head.subarray(512 + 0, 512 + 8).toString('latin1') === 'LABELONE') return 'LVM physical volume';
    return 'no known file system';
  } finally {
    await handle.close();
  }
}

/** The disk's first sector's boot code, through the container when there is one. */
async function firstSector(file: string, outer: Level, limits: ReaderLimits): Promise<Buffer | null> {
  const container = CONTAINERS[outer.type];
  if (container) {
    const sector = await read(file, '', limits, 512, container).catch(() => null);
    return sector && sector.length >= 440 ? sector.subarray(0, 440) : null;
  }
  const handle = await openFile(file, 'r');
  try {
    const sector = Buffer.alloc(440);
    const { bytesRead } = await handle.read(sector, 0, 440, 0);
    return bytesRead === 440 ? sector : null;
  } finally {
    await handle.close();
  }
}
