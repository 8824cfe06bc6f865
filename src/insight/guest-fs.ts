/**
 * One file system of a guest, as 7zz listed it: paths looked up the way the
 * guest's kernel would (symlinks followed, `/usr` merged trees included),
 * and files read on demand. Symlinks resolve inside this file system only:
 * an absolute target means the guest's root, never the host's.
 */
import path from 'node:path/posix';
import { type Entry, type ReaderLimits, extract, read } from './seven-zip.js';

const MAX_LINKS = 32;
/** The most of one file a check reads (os-release, a config file, an ELF header). */
export const MAX_FILE_BYTES = 1024 * 1024;

/** One file system of a guest as the checks read it, whichever reader opened it. */
export interface GuestTree {
  /** What the reader called it: Ext, NTFS, FAT …, or libguestfs for a whole guest it mounted. */
  readonly type: string;
  exists(p: string): boolean | Promise<boolean>;
  isDir(p: string): boolean | Promise<boolean>;
  list(dir: string): string[] | Promise<string[]>;
  read(p: string, maxBytes?: number): Promise<Buffer | null>;
  text(p: string): Promise<string | null>;
  /** Copies a file of at most `maxBytes` to `target` on the host, for reading in place (a registry hive); false when there is none that small. */
  copy(p: string, target: string, maxBytes: number): Promise<boolean>;
}

export class GuestFs implements GuestTree {
  private readonly entries = new Map<string, Entry>();
  private readonly childrenOf = new Map<string, string[]>();
  private folded?: Map<string, Entry>;

  constructor(
    /** The file 7zz opens to reach this file system (the disk, or a partition copied out of it). */
    private readonly source: string,
    entries: Entry[],
    private readonly limits: ReaderLimits,
    /** What 7zz called it: Ext, NTFS, FAT … */
    readonly type: string,
  ) {
    for (const e of entries) {
      const key = normal(e.path);
      if (!key) continue;
      this.entries.set(key, e);
      const parent = path.dirname(key);
      const list = this.childrenOf.get(parent === '.' ? '' : parent) ?? [];
      list.push(path.basename(key));
      this.childrenOf.set(parent === '.' ? '' : parent, list);
    }
  }

  /** The path with every symlink along it followed, or null when it leads nowhere (or loops). */
  resolve(p: string): string | null {
    let parts = normal(p).split('/').filter(Boolean);
    let done = '';
    for (let hops = 0; parts.length; ) {
      const next = done ? `${done}/${parts[0]}` : parts[0];
      const entry = this.lookup(next);
      if (!entry) return null;
      if (entry.link !== undefined) {
        if (++hops > MAX_LINKS || !entry.link) return null;
        const target = entry.link.startsWith('/') ? entry.link : path.join(done || '/', entry.link);
        parts = [...normal(target).split('/').filter(Boolean), ...parts.slice(1)];
        done = '';
        continue;
      }
      done = normal(entry.path); // as stored: FAT and NTFS names may differ in case from the one asked for
      parts = parts.slice(1);
    }
    return done;
  }

  exists(p: string): boolean {
    return this.resolve(p) !== null;
  }

  isDir(p: string): boolean {
    const real = this.resolve(p);
    return real !== null && (real === '' || this.lookup(real)?.dir === true);
  }

  /** The names in a directory (empty when it is none). */
  list(dir: string): string[] {
    const real = this.resolve(dir);
    return real === null ? [] : (this.childrenOf.get(real) ?? []);
  }

  /** A file's bytes (at most `maxBytes`), or null when there is no such file. */
  async read(p: string, maxBytes = MAX_FILE_BYTES): Promise<Buffer | null> {
    const real = this.resolve(p);
    const entry = real ? this.lookup(real) : undefined;
    if (!real || !entry || entry.dir) return null;
    return read(this.source, real, this.limits, maxBytes);
  }

  async text(p: string): Promise<string | null> {
    return (await this.read(p))?.toString('utf8') ?? null;
  }

  async copy(p: string, target: string, maxBytes: number): Promise<boolean> {
    const real = this.resolve(p);
    const entry = real ? this.lookup(real) : undefined;
    if (!real || !entry || entry.dir || entry.size === null || entry.size > maxBytes) return false;
    await extract(this.source, real, target, this.limits);
    return true;
  }

  /**
   * FAT and NTFS names do not care about case: Windows/System32 is
   * WINDOWS/system32 on some disks.
   */
  private lookup(p: string): Entry | undefined {
    const exact = this.entries.get(p);
    if (exact || (this.type !== 'FAT' && this.type !== 'NTFS')) return exact;
    this.folded ??= new Map([...this.entries].map(([key, entry]) => [key.toLowerCase(), entry]));
    return this.folded.get(p.toLowerCase());
  }
}

/** A guest path as a key: no leading slash, `.` and `..` settled without ever leaving the root. */
function normal(p: string): string {
  const joined = path.normalize(`/${p.replace(/\\/g, '/')}`);
  return joined.replace(/^\/+/, '').replace(/\/+$/, '');
}
