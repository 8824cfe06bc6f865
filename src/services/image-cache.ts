/**
 * The image cache's use cases: the `/v2/cache` API (policies as Glance's,
 * admin by default) and the background work — the prefetcher fetching
 * queued images every `cache_prefetcher_interval` and soon after a queue
 * request, and the periodic sweep that removes copies of images no longer
 * served (deleted or deactivated anywhere), cleans and prunes. Each node acts
 * on its own cache only.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { RequestContext } from '../auth/context.js';
import type { Policy } from '../auth/policy.js';
import type { ImageCache } from '../cache/image-cache.js';
import type { CacheRepository } from '../db/cache-repo.js';
import type { ImagesRepository } from '../db/images-repo.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import type { ImageAccess } from './image-access.js';
import type { ImageDataService } from './image-data.js';

/** How often the leader looks for queued images between full passes. */
const QUEUE_POLL_MS = 2000;

export interface ImageCacheServiceDeps {
  cache: ImageCache | null;
  records: CacheRepository;
  repo: ImagesRepository;
  access: ImageAccess;
  policy: Policy;
  data: ImageDataService;
  log: Pick<Logger, 'warn' | 'info'>;
}

/** `GET /v2/cache`: Glance's entries (times as epoch seconds). */
export interface CacheState {
  cached_images: { image_id: string; hits: number; size: number; checksum: string | null; last_accessed: number; last_modified: number }[];
  queued_images: string[];
}

export class ImageCacheService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** A pass was asked for while one ran: it runs again, for what was queued meanwhile. */
  private again = false;
  /** Whether this process does the node's cache work (start() was called). */
  private started = false;
  private closed = false;

  constructor(private readonly d: ImageCacheServiceDeps) {}

  /** Whether this node has a cache (`image_cache_dir`). */
  get enabled(): boolean {
    return this.d.cache !== null;
  }

  async state(ctx: RequestContext): Promise<CacheState> {
    const cache = this.enforce(ctx, 'cache_list');
    const rows = await cache.cached();
    return {
      cached_images: rows.map((r) => ({
        image_id: r.image_id,
        hits: r.hits,
        size: r.size,
        checksum: r.checksum,
        last_accessed: r.last_accessed.getTime() / 1000,
        last_modified: r.last_modified.getTime() / 1000,
      })),
      queued_images: await cache.queued(),
    };
  }

  /** `PUT /v2/cache/{id}`: an active image the caller can see, queued for the prefetcher (which runs soon). */
  async queue(ctx: RequestContext, id: string): Promise<void> {
    const { image } = await this.d.access.load(ctx, id).catch(() => {
      throw notFound(`Image ${id} not found.`);
    });
    const cache = this.enforce(ctx, 'cache_image');
    if (image.status !== 'active') throw badRequest('Only images with status active can be targeted for queueing');
    await cache.queue(image.id);
    setImmediate(() => void this.prefetch());
  }

  /** `DELETE /v2/cache/{id}`: the copy and the queue entry; 404 when neither the image nor an entry exists. */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    const cache = this.required();
    const image = await this.d.access.load(ctx, id).catch(() => null);
    if (!image && !(await cache.isCached(id)) && !(await cache.queued()).includes(id)) throw notFound(`Image ${id} not found.`);
    this.enforce(ctx, 'cache_delete');
    await cache.delete(id);
    await cache.dequeue(id);
  }

  /** `DELETE /v2/cache` with `x-image-cache-clear-target`: cache, queue, or both (empty). */
  async clear(ctx: RequestContext, target: string): Promise<void> {
    const cache = this.enforce(ctx, 'cache_delete');
    const which = target.toLowerCase();
    if (!['', 'cache', 'queue'].includes(which)) throw badRequest("If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.");
    if (which !== 'queue') await cache.clearCache();
    if (which !== 'cache') await cache.clearQueue();
  }

  async clean(ctx: RequestContext): Promise<void> {
    await this.enforce(ctx, 'cache_clean').clean();
  }

  async prune(ctx: RequestContext): Promise<{ total_files_pruned: number; total_bytes_pruned: number }> {
    const { files, bytes } = await this.enforce(ctx, 'cache_prune').prune();
    return { total_files_pruned: files, total_bytes_pruned: bytes };
  }

  /** `GET /v2/cache/nodes/{id}`: the nodes holding a copy. */
  async nodes(ctx: RequestContext, id: string): Promise<string[]> {
    this.enforce(ctx, 'list_cached_nodes');
    await this.d.access.load(ctx, id).catch(() => {
      throw notFound(`Image ${id} not found.`);
    });
    return this.d.records.nodesOf(id);
  }

  /** Starts the prefetcher and the sweep, every cache_prefetcher_interval. */
  /**
   * Makes this process the node's background worker for the cache (one per
   * node: with several API workers, the leader): the queue is looked at
   * every QUEUE_POLL_MS (a queue request may have reached another worker),
   * the whole pass runs every cache_prefetcher_interval.
   */
  start(): void {
    const cache = this.d.cache;
    if (!cache) return;
    this.started = true;
    let last = Date.now();
    this.timer = setInterval(() => {
      const full = Date.now() - last >= cache.config.prefetchIntervalMs;
      if (full) last = Date.now();
      void (full ? this.prefetch() : cache.queued().then((ids) => (ids.length > 0 ? this.prefetch() : undefined)));
    }, Math.min(QUEUE_POLL_MS, cache.config.prefetchIntervalMs));
    this.timer.unref();
    setImmediate(() => void this.prefetch());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass of background work (one at a time): fetch the queue, then sweep, clean and prune. */
  prefetch(): Promise<void> {
    const cache = this.d.cache;
    if (!cache || this.closed || !this.started) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const passes = async () => {
      do {
        this.again = false;
        await this.work(cache);
      } while (this.again && !this.closed);
    };
    this.running = passes().finally(() => (this.running = null));
    return this.running;
  }

  private async work(cache: ImageCache): Promise<void> {
    try {
      for (const id of await cache.queued()) {
        if (this.closed) return;
        await this.fetch(cache, id);
      }
      await this.sweep(cache);
      await cache.clean();
      await cache.prune();
    } catch (err) {
      this.d.log.warn({ err }, 'the image cache\'s background pass failed; it runs again next interval');
    }
  }

  private async fetch(cache: ImageCache, id: string): Promise<void> {
    const image = await this.d.repo.get(id);
    if (!image || image.status !== 'active' || image.size === null) {
      await cache.dequeue(id);
      return;
    }
    try {
      const body = await cache.fill(image, await this.d.data.read(image, { token: null, projectId: null }));
      await pipeline(body, new Writable({ write: (_chunk, _encoding, done) => done() }));
      this.d.log.info({ image: id, size: image.size }, 'prefetched an image into the cache');
    } catch (err) {
      await cache.requeue(id);
      this.d.log.warn({ err, image: id }, 'prefetching an image failed; it stays queued');
    }
  }

  /** Copies of images that are no longer served (deleted, or deactivated on any node) go. */
  private async sweep(cache: ImageCache): Promise<void> {
    for (const entry of await cache.cached()) {
      const image = await this.d.repo.get(entry.image_id);
      if (!image || image.status !== 'active') await cache.delete(entry.image_id);
    }
  }

  private required(): ImageCache {
    if (!this.d.cache) throw notFound('Caching via API is not supported at this site.');
    return this.d.cache;
  }

  /** Glance's order: the policy first (403), then whether the cache is on (404). */
  private enforce(ctx: RequestContext, action: string): ImageCache {
    if (!this.d.policy.allowed(ctx, action, { project_id: ctx.projectId })) throw forbidden('Access was denied to this resource.');
    return this.required();
  }
}

