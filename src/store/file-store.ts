/**
 * Glance's filesystem store: `<filesystem_store_datadir>/<image_id>`, location
 * `file://<path>`, so an existing Glance data directory works unchanged.
 * Data is written to a hidden temporary name (directly to the device where the
 * file system allows, see file-write.ts), fsynced, and renamed into place
 * only when complete.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { badRequest, conflict, notFound } from '../domain/errors.js';
import { writeFile } from './file-write.js';
import type { ByteRange, StagingStore } from './image-store.js';
import { leftBehind } from './leftovers.js';
import { readAhead } from './read-ahead.js';

/** `.<image id>.partial-<host>-<pid>-<random>`: who was writing it, so a restart can tell dead writes from live ones. */
const PARTIAL = /^\.(.+)\.partial-(.+)-(\d+)-[0-9a-f]+$/;
const HOST = hostname().replace(/[^\w.]/g, '_');
/** Reads: pieces of this size, this many requested ahead. */
const READ_PIECE = 2 * 1024 * 1024;
const READS_AHEAD = 4;

export class FileStore implements StagingStore {
  readonly type = 'file';

  constructor(
    readonly id: string,
    private readonly dir: string,
    private readonly settings: { directIo: boolean; cacheUploads?: boolean; thin?: boolean } = { directIo: true },
  ) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal } = {}) {
    if (!/^[\w-]+$/.test(imageId)) throw badRequest(`refusing unsafe image id "${imageId}" as a file name`);
    await mkdir(this.dir, { recursive: true });
    const final = path.join(this.dir, imageId);
    if (await exists(final)) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const temp = path.join(this.dir, `.${imageId}.partial-${HOST}-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, data, { direct: this.settings.directIo, thin: this.settings.thin ?? false, cacheWritten: this.settings.cacheUploads ?? false, signal: options.signal });
      await fsyncPath(temp);
      await rename(temp, final);
      await fsyncPath(this.dir);
    } catch (err) {
      await unlink(temp).catch(leftBehind(`partial file ${temp} of a failed write`));
      throw err;
    }
    const { size } = await stat(final);
    return { location: `file://${final}`, size };
  }

  owns(location: string): boolean {
    return this.pathOf(location) !== null;
  }

  /** Several pieces read ahead: a first download straight after an O_DIRECT upload comes from the disk, not the page cache. */
  async get(location: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(location);
    const handle = file ? await open(file, 'r').catch(() => null) : null;
    if (!handle) throw notFound(`Image data not found at ${location}`);
    const { size } = await handle.stat();
    const source = { read: async (offset: number, length: number, into: Buffer) => (await handle.read(into, 0, length, offset)).bytesRead, close: () => handle.close() };
    return readAhead(source, range?.start ?? 0, Math.min(range?.end ?? size - 1, size - 1), { pieceSize: READ_PIECE, ahead: READS_AHEAD });
  }

  async delete(location: string): Promise<void> {
    const file = this.pathOf(location);
    if (!file) return;
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * Removes the temporary files of writers on this host that died mid-write
   * (kill -9, power loss) and returns their image ids. Files of live writers,
   * and of other hosts sharing the directory, are left alone.
   */
  async removeDeadPartials(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const dead: string[] = [];
    for (const name of names) {
      const m = PARTIAL.exec(name);
      if (!m || m[2] !== HOST || isAlive(Number(m[3]))) continue;
      await unlink(path.join(this.dir, name)).catch(leftBehind(`partial file ${name} of a dead writer`));
      dead.push(m[1]);
    }
    return dead;
  }

  /** Whether any writer, on any host, is writing data for this image (a partial file exists). */
  async writing(imageId: string): Promise<boolean> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.some((n) => PARTIAL.exec(n)?.[1] === imageId);
  }

  /**
   * No partial file: the writer died before writing, or after its final
   * rename but before the image turned active. Complete data left that way
   * is removed once it has sat there for `graceMs` (a live writer commits
   * within milliseconds of its rename, which sets the file's ctime).
   */
  async releaseAbandoned(imageId: string, graceMs: number): Promise<boolean> {
    if (await this.writing(imageId)) return false;
    const renamed = await stat(path.join(this.dir, imageId)).catch(() => null);
    if (renamed && Date.now() - renamed.ctimeMs < graceMs) return false;
    await this.delete(this.locationOf(imageId));
    return true;
  }

  /** Image ids of the complete files in this store (names that are UUIDs). */
  async imageIds(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.\w+)?$/i.test(n));
  }

  locationOf(imageId: string): string {
    return `file://${path.join(this.dir, imageId)}`;
  }

  localPath(location: string): string | null {
    return this.pathOf(location);
  }

  /** Only plain files directly inside the data directory: no traversal, no other paths. */
  private pathOf(location: string): string | null {
    if (!location.startsWith('file://')) return null;
    const file = path.resolve(decodeURIComponent(location.slice('file://'.length)));
    if (path.dirname(file) !== path.resolve(this.dir)) return null;
    return file;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
