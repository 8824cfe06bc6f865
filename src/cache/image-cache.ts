/**
 * Glance's image cache on this node, in Glance's directory layout so an
 * existing cache directory keeps working: complete copies at `<dir>/<id>`,
 * copies being written in `incomplete/`, refused ones in `invalid/`, and the
 * prefetch queue as empty files in `queue/` (oldest first). Records (hits,
 * last access) live in Glance's `cached_images` table under this node's
 * `node_reference` row, as the centralized_db driver keeps them.
 *
 * A copy is committed only when complete and its md5 matches the image's
 * checksum; one whose size is wrong is never served. A copy this process has
 * not seen verified (written by another process, or changed since) is
 * checked against the checksum as a whole read streams it — a mismatch cuts
 * the read and moves the copy to `invalid/` — and is not used for ranges
 * until then; once verified, reads skip the hashing (it would cap a cached
 * download at md5's speed) for as long as the file is unchanged. Who may read an image is not this module's business: callers
 * check policy and status before every read, exactly as for a store read.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform, type TransformCallback, pipeline } from 'node:stream';
import type { ImageCacheConfig } from '../config/options.js';
import type { CacheRepository, CachedImage } from '../db/cache-repo.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the cache needs to know of an image to serve or fill a copy of it. */
export interface CacheableImage {
  id: string;
  size: number | null;
  checksum: string | null;
}

export class ImageCache {
  private node: number | null = null;
  /**
   * Fills under way in this process (another process's shows as a file in
   * incomplete/); a purge of the image while it is filled marks it dropped.
   */
  private readonly filling = new Map<string, { dropped: boolean }>();
  /** Copies whose bytes matched their checksum, by the file's identity then (inode, size, mtime). */
  private readonly verified = new Map<string, string>();

  constructor(
    readonly config: ImageCacheConfig,
    private readonly repo: CacheRepository,
  ) {}

  /** Creates the directories, finds this node's row, and adopts complete copies found without a record (a directory Glance's sqlite or xattr driver filled). */
  async start(): Promise<void> {
    for (const sub of ['', 'incomplete', 'invalid', 'queue']) await mkdir(path.join(this.config.dir, sub), { recursive: true });
    this.node = await this.repo.nodeId(this.config.nodeUrl);
    const recorded = new Set((await this.repo.list(this.node)).map((r) => r.image_id));
    for (const id of await this.files('')) {
      if (recorded.has(id)) continue;
      const { size } = await stat(this.file(id));
      await this.repo.record(this.node, id, size, null);
    }
  }

  /**
   * A cached copy of the image, whole or a byte range, with the hit
   * recorded; null when this node holds no usable copy. A copy of the wrong
   * size is moved to `invalid/`; a whole read is checked against the
   * checksum as it streams, and cut (the copy moved away) if it differs.
   */
  async read(image: CacheableImage, range?: { start: number; end: number }): Promise<Readable | null> {
    const file = this.file(image.id);
    const found = await stat(file).catch(() => null);
    if (!found) return null;
    if (image.size === null || found.size !== image.size) {
      await this.invalidate(image.id);
      return null;
    }
    const trusted = this.verified.get(image.id) === identity(found);
    if (range && !trusted) return null;
    await this.repo.hit(this.nodeId(), image.id);
    if (range) return createReadStream(file, { ...range, highWaterMark: 1024 * 1024 });
    const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
    if (trusted || !image.checksum) return stream;
    const verifier = new Verifier(image.checksum, (ok) => (ok ? void this.verified.set(image.id, identity(found)) : this.invalidate(image.id)));
    return pipeline(stream, verifier, () => undefined);
  }

  /**
   * Tees a whole read from a store into `incomplete/<id>`: the stream
   * returned serves the same bytes, and the copy is committed when the last
   * byte has passed and matches. When a fill is already under way here or in
   * another process (two concurrent misses), or the image has no checksum to
   * check a copy against, the body is served as it is.
   */
  async fill(image: CacheableImage, body: Readable): Promise<Readable> {
    if (!image.checksum || image.size === null || this.filling.has(image.id)) return body;
    const incomplete = this.file(image.id, 'incomplete');
    const handle = await open(incomplete, 'wx').catch(() => null);
    if (!handle) return body;
    // A miss that raced a fill which has just finished: the copy is there, nothing to fill.
    if (await this.isCached(image.id)) {
      await handle.close();
      await unlink(incomplete).catch(() => undefined);
      return body;
    }
    const fill = { dropped: false };
    this.filling.set(image.id, fill);
    const tee = new CacheTee(handle, image, async (ok) => {
      try {
        if (!ok || fill.dropped) return void (await unlink(incomplete).catch(() => undefined));
        await rename(incomplete, this.file(image.id));
        this.verified.set(image.id, identity(await stat(this.file(image.id))));
        await this.repo.record(this.nodeId(), image.id, image.size!, image.checksum);
        await unlink(this.file(image.id, 'queue')).catch(() => undefined);
        // A purge (deactivate, delete) that came while the copy was committed wins.
        if (fill.dropped) await this.delete(image.id);
      } finally {
        this.filling.delete(image.id);
      }
    });
    // pipeline: a client that goes away stops the store read too, and a store error reaches the client.
    return pipeline(body, tee, () => undefined);
  }

  async isCached(id: string): Promise<boolean> {
    return (await stat(this.file(id)).catch(() => null)) !== null;
  }

  async cached(): Promise<CachedImage[]> {
    return this.repo.list(this.nodeId());
  }

  /** Queues an image for the prefetcher; false when it is cached, being cached or queued already. */
  async queue(id: string): Promise<boolean> {
    if ((await this.isCached(id)) || this.filling.has(id)) return false;
    const handle = await open(this.file(id, 'queue'), 'wx').catch(() => null);
    await handle?.close();
    return handle !== null;
  }

  /** Queued image ids, oldest first. */
  async queued(): Promise<string[]> {
    const entries = await Promise.all(
      (await this.files('queue')).map(async (id) => ({ id, at: (await stat(this.file(id, 'queue')).catch(() => null))?.mtimeMs })),
    );
    return entries.filter((e) => e.at !== undefined).sort((a, b) => a.at! - b.at!).map((e) => e.id);
  }

  async dequeue(id: string): Promise<boolean> {
    return unlink(this.file(id, 'queue')).then(() => true, () => false);
  }

  /** Removes this node's copy of an image (and its record); true if there was one. */
  async delete(id: string): Promise<boolean> {
    const fill = this.filling.get(id);
    if (fill) fill.dropped = true;
    this.verified.delete(id);
    await this.repo.remove(this.nodeId(), id);
    return unlink(this.file(id)).then(() => true, () => false);
  }

  async clearCache(): Promise<number> {
    let removed = 0;
    for (const id of await this.files('')) if (await this.delete(id)) removed++;
    return removed;
  }

  async clearQueue(): Promise<number> {
    let removed = 0;
    for (const id of await this.files('queue')) if (await this.dequeue(id)) removed++;
    return removed;
  }

  /** Removes refused copies, and incomplete ones older than image_cache_stall_time (their writer is gone). */
  async clean(): Promise<void> {
    for (const name of await readdir(path.join(this.config.dir, 'invalid')).catch(() => [] as string[])) {
      await unlink(path.join(this.config.dir, 'invalid', name)).catch(() => undefined);
    }
    const stalled = Date.now() - this.config.stallTimeMs;
    for (const id of await this.files('incomplete')) {
      const file = this.file(id, 'incomplete');
      const info = await stat(file).catch(() => null);
      if (info && info.mtimeMs < stalled && !this.filling.has(id)) await unlink(file).catch(() => undefined);
    }
  }

  /** Evicts least-recently-accessed copies until the cache fits image_cache_max_size. */
  async prune(): Promise<{ files: number; bytes: number }> {
    let total = await this.size();
    let files = 0;
    let bytes = 0;
    for (const entry of await this.repo.list(this.nodeId())) {
      if (total <= this.config.maxSize) break;
      const size = (await stat(this.file(entry.image_id)).catch(() => null))?.size ?? 0;
      if (await this.delete(entry.image_id)) {
        files++;
        bytes += size;
        total -= size;
      }
    }
    return { files, bytes };
  }

  /** The bytes cached on this node. */
  async size(): Promise<number> {
    let total = 0;
    for (const id of await this.files('')) total += (await stat(this.file(id)).catch(() => null))?.size ?? 0;
    return total;
  }

  /** Moves a copy that must not be served to `invalid/` (the cleaner removes it). */
  async invalidate(id: string): Promise<void> {
    this.verified.delete(id);
    await this.repo.remove(this.nodeId(), id);
    await rename(this.file(id), this.file(id, 'invalid')).catch(() => undefined);
  }

  /** Marks a queue entry as just queued again (so a failed prefetch goes to the back). */
  async requeue(id: string): Promise<void> {
    const now = new Date();
    await utimes(this.file(id, 'queue'), now, now).catch(() => undefined);
  }

  private nodeId(): number {
    if (this.node === null) throw new Error('the image cache has not started');
    return this.node;
  }

  private file(id: string, sub: 'incomplete' | 'invalid' | 'queue' | '' = ''): string {
    if (!UUID.test(id)) throw new Error(`not an image id: ${id}`);
    return path.join(this.config.dir, sub, id);
  }

  /** Image ids with a file in a sub-directory (or the cache's own). */
  private async files(sub: string): Promise<string[]> {
    const names = await readdir(path.join(this.config.dir, sub), { withFileTypes: true }).catch(() => []);
    return names.filter((d) => d.isFile() && UUID.test(d.name)).map((d) => d.name);
  }
}

/** A file's identity: a copy verified once stays trusted while this does not change. */
function identity(info: { ino: number; size: number; mtimeMs: number }): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

/**
 * Passes a whole cached copy through while hashing it, holding back its last
 * chunk until the checksum is known: a copy that does not match is never
 * served whole (the client sees a cut response) and is reported.
 */
class Verifier extends Transform {
  private readonly md5 = createHash('md5');
  private held: Buffer | null = null;

  constructor(
    private readonly checksum: string,
    private readonly verdict: (ok: boolean) => Promise<void> | void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.md5.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous ?? undefined);
  }

  override _flush(done: TransformCallback): void {
    if (this.md5.digest('hex') === this.checksum) {
      void this.verdict(true);
      return done(null, this.held ?? undefined);
    }
    Promise.resolve(this.verdict(false)).then(
      () => done(new Error('the cached copy does not match the image checksum: moved to invalid/')),
      () => done(new Error('the cached copy does not match the image checksum')),
    );
  }
}

/** Writes each chunk to the incomplete copy before passing it on, and decides at the end whether the copy is good. */
class CacheTee extends Transform {
  private readonly md5 = createHash('md5');
  private bytes = 0;
  private settled = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly image: CacheableImage,
    private readonly done: (ok: boolean) => Promise<void>,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.md5.update(chunk);
    this.bytes += chunk.length;
    this.handle.write(chunk).then(
      () => callback(null, chunk),
      // The cache failing (disk full) must not fail the download: stop filling, keep serving.
      () => this.settle(false).then(() => callback(null, chunk)),
    );
  }

  override _flush(callback: TransformCallback): void {
    const ok = this.bytes === this.image.size && this.md5.digest('hex') === this.image.checksum;
    this.settle(ok).then(
      () => callback(),
      () => callback(),
    );
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.settle(false).then(
      () => callback(err),
      () => callback(err),
    );
  }

  private async settle(ok: boolean): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (ok) await this.handle.sync();
    await this.handle.close().catch(() => undefined);
    await this.done(ok).catch(() => undefined);
  }
}
