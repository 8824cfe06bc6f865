/**
 * glance_store's rbd driver, the store most Glance deployments use: each
 * image is an RBD image named by the image id in `rbd_store_pool`, made of
 * objects of `rbd_store_chunk_size` MiB, with a protected snapshot `snap`
 * that Nova and Cinder clone copy-on-write. Its location is
 * `rbd://<fsid>/<pool>/<image>/snap`, exactly as glance-api writes it, so
 * either service reads, clones and deletes what the other wrote.
 *
 * A write creates the image (at the announced size, or empty and grown as
 * the data arrives), writes it with several chunks in flight, trims it to
 * what arrived, then snapshots and protects it: the snapshot is what marks
 * the data complete. A failed write removes the image.
 *
 * Liveness needs no lease of our own: a client that has an image open for
 * writing holds a watch on it, which the cluster drops ~30 s after the client
 * dies. An image without its snapshot and without watchers was left by a
 * dead writer (ours or glance-api's) and can go.
 */
import type { Readable } from 'node:stream';
import type { RbdStoreOptions } from '../config/options.js';
import { GlimpseError, badRequest, conflict, notFound } from '../domain/errors.js';
import type { ByteRange, ImageStore } from './image-store.js';
import { leftBehind } from './leftovers.js';
import { readAhead } from './read-ahead.js';
import { EBUSY, EEXIST, EINVAL, ENOENT, ENOSPC, type Pool, RadosCluster, RbdError, type RbdImage } from './rbd/librbd.js';

const SNAPSHOT = 'snap';
/** Bytes per write or read call: small enough to keep several in flight in little memory, large enough to amortise the round trip. */
const IO_SIZE = 4 * 1024 * 1024;
/** Writes in flight per upload (each on a thread-pool thread); memory per upload is (this + 1) × IO_SIZE. */
const WRITES_IN_FLIGHT = 3;
/** Reads requested ahead per download; memory per download is about this × IO_SIZE. */
const READS_IN_FLIGHT = 3;
/** Growth of an image of unknown size never exceeds this per step (glance_store's cap). */
const MAX_GROWTH = 8 * 1024 ** 3;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An rbd:// location: `rbd://<fsid>/<pool>/<image>/<snapshot>`, or the old `rbd://<image>` (the store's pool, no snapshot). */
export interface RbdLocation {
  fsid: string | null;
  pool: string | null;
  image: string;
  snapshot: string | null;
}

export function parseRbdLocation(uri: string): RbdLocation | null {
  if (!uri.startsWith('rbd://')) return null;
  const parts = uri.slice('rbd://'.length).split('/');
  if (parts.some((p) => p === '')) return null;
  try {
    if (parts.length === 1) return { fsid: null, pool: null, image: decodeURIComponent(parts[0]), snapshot: null };
    if (parts.length !== 4) return null;
    const [fsid, pool, image, snapshot] = parts.map(decodeURIComponent);
    return { fsid, pool, image, snapshot };
  } catch {
    return null;
  }
}

export function rbdLocation(fsid: string, pool: string, image: string): string {
  return `rbd://${[fsid, pool, image, SNAPSHOT].map(encodeURIComponent).join('/')}`;
}

interface Connection {
  cluster: RadosCluster;
  fsid: string;
  pools: Map<string, Promise<Pool>>;
}

export class RbdStore implements ImageStore {
  readonly type = 'rbd';
  private connection: Promise<Connection> | null = null;
  private fsid: string | null = null;

  /** The cluster's fsid, once connected (null before). */
  get clusterFsid(): string | null {
    return this.fsid;
  }

  constructor(
    readonly id: string,
    private readonly o: RbdStoreOptions,
  ) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal; size?: number | null } = {}) {
    if (!UUID.test(imageId)) throw badRequest(`refusing image id "${imageId}" as an RBD image name`);
    const pool = await this.pool(this.o.pool);
    const announced = options.size ?? 0;
    try {
      await pool.create(imageId, announced, Math.log2(this.o.chunkSize));
    } catch (err) {
      if (err instanceof RbdError && err.errno === EEXIST) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
      throw storeError(err);
    }
    let image: RbdImage | null = null;
    try {
      image = await pool.open(imageId, { readOnly: false });
      const size = await writeAll(image, data, { size: announced, chunkSize: this.o.chunkSize, thin: this.o.thin, signal: options.signal });
      await image.createSnapshot(SNAPSHOT);
      await image.protect(SNAPSHOT);
      await image.close();
      return { location: rbdLocation((await this.connected()).fsid, this.o.pool, imageId), size };
    } catch (err) {
      await image?.close().catch(() => undefined);
      await this.removeImage(pool, imageId).catch(leftBehind(`RBD image ${this.o.pool}/${imageId} of a failed write`));
      throw storeError(err);
    }
  }

  owns(location: string): boolean {
    const parsed = parseRbdLocation(location);
    if (!parsed) return false;
    return parsed.fsid === null || this.fsid === null || parsed.fsid === this.fsid;
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const { pool, image: name, snapshot } = await this.resolve(location);
    let image: RbdImage;
    try {
      image = await pool.open(name, { readOnly: true, snapshot });
    } catch (err) {
      if (err instanceof RbdError && err.errno === ENOENT) throw notFound(`Image data not found at ${location}`);
      throw storeError(err);
    }
    try {
      const size = await image.size();
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? size - 1, size - 1);
      return readStream(image, start, end);
    } catch (err) {
      await image.close().catch(() => undefined);
      throw storeError(err);
    }
  }

  async size(location: string): Promise<number> {
    const { pool, image: name, snapshot } = await this.resolve(location);
    const image = await pool.open(name, { readOnly: true, snapshot }).catch((err: unknown) => {
      if (err instanceof RbdError && err.errno === ENOENT) throw notFound(`Image data not found at ${location}`);
      throw storeError(err);
    });
    try {
      return await image.size();
    } finally {
      await image.close().catch(() => undefined);
    }
  }

  /**
   * Refuses (409, as glance_store's InUseByStore) while the snapshot has
   * clones — a Nova disk or Cinder volume made from the image — and keeps
   * everything then.
   */
  async assertDeletable(location: string): Promise<void> {
    const { pool, image: name, snapshot } = await this.resolve(location);
    if (!snapshot) return;
    const image = await pool.open(name, { readOnly: true, snapshot }).catch((err: unknown) => {
      if (err instanceof RbdError && err.errno === ENOENT) return null;
      throw storeError(err);
    });
    if (!image) return;
    try {
      if ((await image.children()) > 0) throw inUse();
    } finally {
      await image.close().catch(() => undefined);
    }
  }

  async delete(location: string): Promise<void> {
    const { pool, image, snapshot } = await this.resolve(location);
    await this.removeImage(pool, image, snapshot);
  }

  /**
   * For an image stuck in `saving`: false while any client has its RBD image
   * open for writing (a live writer, here or in glance-api); else removes an
   * RBD image left without its snapshot, or a complete one whose writer died
   * before the image turned active, and answers true. A snapshot younger
   * than `graceMs` may belong to a writer between its close and its commit.
   */
  async releaseAbandoned(imageId: string, graceMs: number): Promise<boolean> {
    const pool = await this.pool(this.o.pool);
    const image = await pool.open(imageId, { readOnly: true }).catch((err: unknown) => {
      if (err instanceof RbdError && err.errno === ENOENT) return null;
      throw storeError(err);
    });
    if (!image) return true;
    try {
      if ((await image.watchers()) > 0) return false;
      if ((await image.hasSnapshot(SNAPSHOT)) && Date.now() - (await image.snapshotTime(SNAPSHOT)).getTime() < graceMs) return false;
    } catch (err) {
      throw storeError(err);
    } finally {
      await image.close().catch(() => undefined);
    }
    await this.removeImage(pool, imageId, SNAPSHOT);
    return true;
  }

  /** Image ids with data in this store's pool (RBD images named by a UUID). */
  async imageIds(): Promise<string[]> {
    const pool = await this.pool(this.o.pool);
    return (await pool.list()).filter((name) => UUID.test(name));
  }

  locationOf(imageId: string): string {
    if (this.fsid === null) throw new Error('the rbd store has not connected yet');
    return rbdLocation(this.fsid, this.o.pool, imageId);
  }

  /** Unprotects and removes the snapshot, then the image; missing parts are fine, clones are not. */
  private async removeImage(pool: Pool, name: string, snapshot: string | null = SNAPSHOT): Promise<void> {
    let image: RbdImage;
    try {
      image = await pool.open(name, { readOnly: false });
    } catch (err) {
      if (err instanceof RbdError && err.errno === ENOENT) return;
      throw storeError(err);
    }
    try {
      if (snapshot && (await image.hasSnapshot(snapshot))) {
        await image.unprotect(snapshot).catch((err: unknown) => {
          if (err instanceof RbdError && err.errno === EINVAL) return; // not protected
          throw err;
        });
        await image.removeSnapshot(snapshot);
      }
    } catch (err) {
      throw storeError(err);
    } finally {
      await image.close().catch(() => undefined);
    }
    await pool.remove(name).catch((err: unknown) => {
      if (err instanceof RbdError && err.errno === ENOENT) return;
      throw storeError(err);
    });
  }

  private async resolve(location: string): Promise<{ pool: Pool; image: string; snapshot: string | null }> {
    const parsed = parseRbdLocation(location);
    if (!parsed) throw badRequest(`Invalid rbd location: ${location}`);
    return { pool: await this.pool(parsed.pool ?? this.o.pool), image: parsed.image, snapshot: parsed.snapshot };
  }

  private async pool(name: string): Promise<Pool> {
    const connection = await this.connected();
    let pool = connection.pools.get(name);
    if (!pool) {
      pool = connection.cluster.pool(name);
      connection.pools.set(name, pool);
      pool.catch(() => connection.pools.delete(name));
    }
    return pool.catch((err: unknown) => {
      throw storeError(err);
    });
  }

  /** One cluster connection per process, made on first use; a failed attempt is retried by the next call. */
  private connected(): Promise<Connection> {
    this.connection ??= RadosCluster.connect({ confFile: this.o.confFile, user: this.o.user, connectTimeout: this.o.connectTimeout }).then(
      (cluster) => {
        this.fsid = cluster.fsid();
        return { cluster, fsid: this.fsid, pools: new Map() };
      },
      (err: unknown) => {
        this.connection = null;
        throw storeError(err);
      },
    );
    return this.connection;
  }

  /** Ends the cluster connection (tests and shutdown). */
  async close(): Promise<void> {
    const connection = await this.connection?.catch(() => null);
    this.connection = null;
    if (!connection) return;
    for (const pool of connection.pools.values()) (await pool.catch(() => null))?.destroy();
    connection.cluster.shutdown();
  }
}

/**
 * Writes the stream at offset 0 with up to WRITES_IN_FLIGHT writes at once,
 * growing the image when the data outruns it, skipping all-zero pieces when
 * thin, and trims the image to the bytes received. Returns that count.
 */
async function writeAll(image: RbdImage, data: Readable, o: { size: number; chunkSize: number; thin: boolean; signal?: AbortSignal }): Promise<number> {
  const spare: Buffer[] = Array.from({ length: WRITES_IN_FLIGHT + 1 }, () => Buffer.allocUnsafe(IO_SIZE));
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let capacity = o.size;
  let growth = o.chunkSize;
  let offset = 0;
  let filling = spare.pop()!;
  let filled = 0;

  const flush = async () => {
    const piece = filling.subarray(0, filled);
    const at = offset;
    offset += filled;
    if (offset > capacity) {
      await Promise.all(inFlight);
      growth = Math.min(growth * 2, MAX_GROWTH);
      capacity = Math.max(offset, capacity + growth);
      await image.resize(capacity);
    }
    const buffer = filling;
    if (!(o.thin && isZero(piece))) {
      const write: Promise<void> = image
        .write(at, piece)
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => {
          spare.push(buffer);
          inFlight.delete(write);
        });
      inFlight.add(write);
    } else {
      spare.push(buffer);
    }
    while (spare.length === 0 || inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure;
    filling = spare.pop()!;
    filled = 0;
  };

  try {
    for await (const chunk of data as AsyncIterable<Buffer>) {
      o.signal?.throwIfAborted();
      for (let at = 0; at < chunk.length; ) {
        const n = chunk.copy(filling, filled, at);
        at += n;
        filled += n;
        if (filled === IO_SIZE) await flush();
      }
    }
    o.signal?.throwIfAborted();
    if (filled > 0) await flush();
    await Promise.all(inFlight);
    if (failure) throw failure;
    if (capacity !== offset) await image.resize(offset);
    return offset;
  } finally {
    await Promise.all(inFlight);
  }
}

const ZEROS = Buffer.alloc(IO_SIZE);

function isZero(piece: Buffer): boolean {
  return piece.equals(ZEROS.subarray(0, piece.length));
}

/** Reads [start, end] of an open image (or snapshot), READS_IN_FLIGHT pieces ahead; the image closes with the stream. */
function readStream(image: RbdImage, start: number, end: number): Readable {
  return readAhead(
    { read: (offset, length, into) => image.read(offset, length, into), close: () => image.close() },
    start,
    end,
    { pieceSize: IO_SIZE, ahead: READS_IN_FLIGHT, fail: (err) => storeError(err) as Error },
  );
}

function inUse(): GlimpseError {
  return conflict('The image cannot be deleted because it is in use through the backend store outside of Glance.');
}

/** librbd's answers as the API's: clones → 409 in use, no space → 413, an unreachable cluster → 503. */
function storeError(err: unknown): unknown {
  if (!(err instanceof RbdError)) return err;
  if (err.errno === EBUSY) return inUse();
  if (err.errno === ENOSPC) return new GlimpseError('too_large', 'Image storage media is full: there is not enough space in the RBD pool');
  return new GlimpseError('service_unavailable', `The rbd store is unavailable: ${err.message}`);
}
