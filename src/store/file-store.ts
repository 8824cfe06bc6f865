/**
 * Glance's filesystem store: `<filesystem_store_datadir>/<image_id>`, location
 * `file://<path>`, so an existing Glance data directory works unchanged.
 * Data is written to a hidden temporary name, fsynced, and renamed into place
 * only when complete.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { conflict, notFound } from '../domain/errors.js';
import type { ByteRange, ImageStore } from './image-store.js';

const PARTIAL = /^\.(.+)\.partial-[0-9a-f]+$/;

export class FileStore implements ImageStore {
  readonly type = 'file';

  constructor(
    readonly id: string,
    private readonly dir: string,
  ) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal } = {}) {
    if (!/^[\w-]+$/.test(imageId)) throw new Error(`refusing unsafe image id "${imageId}" as a file name`);
    await mkdir(this.dir, { recursive: true });
    const final = path.join(this.dir, imageId);
    if (await exists(final)) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const temp = path.join(this.dir, `.${imageId}.partial-${randomBytes(6).toString('hex')}`);
    try {
      const out = createWriteStream(temp, { flags: 'wx', highWaterMark: 1024 * 1024 });
      await pipeline(data, out, { signal: options.signal });
      await fsyncPath(temp);
      await rename(temp, final);
      await fsyncPath(this.dir);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    const { size } = await stat(final);
    return { location: `file://${final}`, size };
  }

  owns(location: string): boolean {
    return this.pathOf(location) !== null;
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(location);
    if (!file || !(await exists(file))) throw notFound(`Image data not found at ${location}`);
    return createReadStream(file, { highWaterMark: 1024 * 1024, ...(range ?? {}) });
  }

  async delete(location: string): Promise<void> {
    const file = this.pathOf(location);
    if (!file) return;
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Removes temporary files left by a process that died mid-write. */
  async removePartials(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const removed = names.filter((n) => PARTIAL.test(n));
    await Promise.all(removed.map((n) => unlink(path.join(this.dir, n)).catch(() => undefined)));
    return removed;
  }

  /** Only plain files directly inside the data directory: no traversal, no other paths. */
  private pathOf(location: string): string | null {
    if (!location.startsWith('file://')) return null;
    const file = path.resolve(decodeURIComponent(location.slice('file://'.length)));
    if (path.dirname(file) !== path.resolve(this.dir)) return null;
    return file;
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
