/**
 * Image bytes: upload (queued → saving → active), staging for interoperable
 * import (queued → uploading), download (whole or one range). Each write is
 * one streaming pass — limit, hashes, store — and every status change is a
 * compare-and-set, so concurrent uploads and deletes cannot corrupt an image:
 * whatever fails, the image goes back to `queued` and no partial data is kept.
 */
import { type Readable, Transform, pipeline } from 'node:stream';
import type { Logger } from 'pino';
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { ImagesRepository, Trx } from '../db/images-repo.js';
import type { ImageFormatRules } from '../formats/policy.js';
import { GlimpseError, badRequest, conflict, forbidden, gone, notFound, rangeNotSatisfiable, tooLarge, unsupportedMediaType } from '../domain/errors.js';
import { type Image, type ImageLocation, type ImageStatus, NO_DATA } from '../domain/image.js';
import type { InspectionReport } from '../formats/inspector.js';
import { judgeUpload } from '../formats/policy.js';
import type { ByteRange, ImageStore, StagingStore, StoreCaller } from '../store/image-store.js';
import type { StoreSet } from '../store/stores.js';
import type { ImageCache } from '../cache/image-cache.js';
import type { Notifier } from '../notify/notifier.js';
import type { Metrics } from '../metrics/metrics.js';
import { imagePayload, importProperties, sendPayload } from '../notify/payloads.js';
import { type IngestOptions, type IngestResult, ingest } from '../store/ingest.js';
import { type DataSharing, callerOf } from './data-sharing.js';
import type { ImageAccess } from './image-access.js';
import type { QuotaDeltas, Quotas } from './quotas.js';

export interface DataLimits {
  /** Uploads and stagings this process receives at once; more get a 503. */
  maxConcurrentUploads: number;
  /** How long a write may sit in `saving`/`uploading` with no sign of a writer before recovery judges it dead. */
  writeStaleMs: number;
  imageSizeCap: number;
  hashingAlgorithm: string;
  enabledImportMethods: string[];
  imageFormat: ImageFormatRules;
}

export interface IncomingData {
  body: Readable;
  /** `X-Image-Meta-Store`: the store to write to (multi-store), else the default one. */
  store?: string | null;
  /** `x-openstack-image-size`: a promise the received bytes must keep. */
  declaredSize: number | null;
  /** Content-Length, when sent: lets an oversized upload be refused before reading it. */
  contentLength: number | null;
  signal?: AbortSignal;
}

export interface Download {
  image: Image;
  body: Readable | null;
  /** The served slice, when a range was asked for. */
  range: (ByteRange & { total: number }) | null;
}

/**
 * A parsed Range header: `bytes=a-b`, `bytes=a-` or `bytes=-n`. `strictEnd`:
 * the legacy `Content-Range` form, whose end may not pass the image's (416).
 */
export type RangeRequest = { start: number | null; end: number | null; strictEnd?: boolean };


export interface ImageDataDeps {
  access: ImageAccess;
  repo: ImagesRepository;
  stores: StoreSet;
  staging: StagingStore;
  limits: DataLimits;
  quotas: Quotas;
  sharing: DataSharing;
  /** This node's image cache (`image_cache_dir`), or null. */
  cache: ImageCache | null;
  notify: Notifier;
  metrics: Metrics;
  log: Pick<Logger, 'warn'>;
}

export class ImageDataService {
  /** Images this process is writing now: recovery never judges them, whatever their age. */
  private readonly writing = new Set<string>();
  /** Who else acts when an image becomes active with its data (image insight). */
  private readonly activationListeners: ((image: Image) => void)[] = [];

  private readonly access: ImageAccess;
  private readonly repo: ImagesRepository;
  private readonly stores: StoreSet;
  private readonly staging: StagingStore;
  private readonly limits: DataLimits;

  constructor(private readonly d: ImageDataDeps) {
    ({ access: this.access, repo: this.repo, stores: this.stores, staging: this.staging, limits: this.limits } = d);
  }

  /**
   * `PUT /file`. An empty body for a bare image stores nothing and leaves the
   * image `queued` ('empty'): there is no disk in it, and a script that runs
   * `openstack image create` without a terminal sends one (openstackclient
   * uploads standard input), which must leave a record to upload to later.
   */
  async upload(ctx: RequestContext, id: string, data: IncomingData): Promise<'stored' | 'empty'> {
    const image = await this.writable(ctx, id, 'upload_image', 'saving');
    if (!image.disk_format || !image.container_format) {
      throw badRequest('Properties disk_format, container_format must be set prior to saving data.');
    }
    const limit = await this.sizeLimit(image, 'image_size_total');
    let virtualSize: number | null = null;
    const inspect = this.inspection(image, data.declaredSize, (v) => (virtualSize = v));
    const store = this.target(data.store);
    const caller = callerOf(ctx);
    const quota = { start: { image_size_total: 0, image_count_uploading: 1 }, resource: 'image_size_total' } as const;
    this.notifyPrepare(image, store);
    try {
      await this.write(image, 'saving', store, data, limit, inspect, caller, quota, async (stored, trx) => {
        const { location, ...hashes } = stored;
        const addLocations = [{ url: location, metadata: this.stores.metadataFor(store) }];
        await this.repo.update(image.id, { fields: { ...hashes, virtual_size: virtualSize, status: 'active' }, addLocations }, 'saving', undefined, trx);
      });
    } catch (err) {
      if (err instanceof EmptyUpload) {
        this.d.log.warn({ image: image.id, requestId: ctx.requestId }, 'empty upload: nothing stored, the image stays queued');
        return 'empty';
      }
      this.uploadFailed(ctx, image, err);
      throw err;
    }
    const active = await this.repo.get(image.id);
    if (!active) return 'stored';
    this.d.metrics.bytesUploaded.inc(active.size ?? 0);
    this.notifyUploaded(active);
    this.notifyActivated(active);
    return 'stored';
  }

  /** `image.prepare`, before data is written to a store (an upload, or an import's write). */
  private notifyPrepare(image: Image, store: ImageStore): void {
    this.d.notify.emit('image.prepare', { ...imagePayload(image), ...importProperties(image), ...(this.stores.multi ? { backend: store.id } : {}) });
  }

  /** After data reached a store: `image.upload`. */
  private notifyUploaded(image: Image): void {
    this.d.notify.emit('image.upload', { ...imagePayload(image), ...importProperties(image) });
  }

  /**
   * The image became active with its data (an upload or an import):
   * `image.activate` and `image.update`, as Glance sends them, then the
   * listeners.
   */
  notifyActivated(image: Image): void {
    this.d.notify.emit('image.activate', imagePayload(image));
    this.d.notify.emit('image.update', imagePayload(image));
    for (const listener of this.activationListeners) listener(image);
  }

  onActivated(listener: (image: Image) => void): void {
    this.activationListeners.push(listener);
  }

  /** A refused or failed upload: `image.upload` at ERROR with the reason (Glance's payload is the message), and a log line saying why. */
  private uploadFailed(ctx: RequestContext, image: Image, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.d.notify.emit('image.upload', reason, 'ERROR');
    const refused = err instanceof GlimpseError && (err.kind === 'unsupported_media_type' || err.kind === 'too_large' || err.kind === 'bad_request');
    // Inspection refusals are counted where they are judged, by their check; these are the others.
    if (refused && (err as GlimpseError).kind !== 'unsupported_media_type') this.d.metrics.uploadRefusals.inc({ reason: (err as GlimpseError).kind === 'too_large' ? 'size' : 'request' });
    this.d.log.warn({ image: image.id, requestId: ctx.requestId, reason }, refused ? `upload refused: ${reason}` : `upload failed: ${reason}`);
  }

  /**
   * An import's write to one store (glance-direct, web-download, copy-image):
   * the same single pass as an upload — limits, hashes, inspection. The
   * caller records the location; on its failure it removes the data.
   */
  async writeToStore(
    image: Image,
    store: ImageStore,
    body: Readable,
    caller: StoreCaller,
    signal?: AbortSignal,
  ): Promise<IngestResult & { virtual_size: number | null }> {
    const limit = await this.sizeLimit(image, 'image_size_total');
    let virtualSize: number | null = null;
    const inspect = this.inspection(image, null, (v) => (virtualSize = v));
    this.notifyPrepare(image, store);
    const stored = await ingest(store, image.id, body, {
      hashingAlgorithm: this.limits.hashingAlgorithm,
      maxBytes: limit.maxBytes,
      limitMessage: limit.message,
      signal,
      inspect,
      caller,
    });
    try {
      await this.d.sharing.sync(caller, image, [stored.location]);
    } catch (err) {
      await store.delete(stored.location, caller).catch((e: unknown) =>
        this.d.log.warn({ err: e, image: image.id, location: stored.location }, 'could not remove data whose access rules failed to apply: it is left in the store'),
      );
      throw err;
    }
    this.d.metrics.bytesUploaded.inc(stored.size);
    this.notifyUploaded({ ...image, checksum: stored.checksum, size: stored.size, os_hash_algo: stored.os_hash_algo, os_hash_value: stored.os_hash_value });
    return { ...stored, virtual_size: virtualSize };
  }

  /** The image's data from its first readable location (copy-image's source). */
  async read(image: Image, caller: StoreCaller): Promise<Readable> {
    for (const location of image.locations) {
      const store = this.stores.forLocation(location);
      if (store) return store.get(location.url, undefined, caller);
    }
    throw new GlimpseError('service_unavailable', `No configured store serves the data of image ${image.id}.`);
  }

  /** A staged image's bytes. */
  async staged(imageId: string): Promise<Readable> {
    return this.staging.get(this.staging.locationOf(imageId)).catch((err: unknown) => {
      if (err instanceof GlimpseError && err.kind === 'not_found') throw notFound(`No staged data for image ${imageId} on this node.`);
      throw err;
    });
  }

  /** Where an image's staged data is on this node (for the conversion plugin's qemu-img). */
  stagedFile(imageId: string): string {
    const file = this.staging.localPath(this.staging.locationOf(imageId));
    if (file === null) throw badRequest(`Image id ${imageId} cannot name a staged file.`);
    return file;
  }

  /** Stages a stream (web-download's first step), within the staging limits. */
  async stageStream(image: Image, body: Readable, signal?: AbortSignal): Promise<void> {
    const limit = await this.sizeLimit(image, 'image_stage_total');
    await this.staging.delete(this.staging.locationOf(image.id));
    await ingest(this.staging, image.id, body, { hashingAlgorithm: this.limits.hashingAlgorithm, maxBytes: limit.maxBytes, limitMessage: limit.message, signal });
  }

  /** The store `X-Image-Meta-Store` names (400 if none is), or the default one; single-store ignores it, as Glance. */
  target(storeId: string | null | undefined): ImageStore {
    if (!storeId || !this.stores.multi) return this.stores.default;
    const store = this.stores.byId(storeId);
    if (!store) throw badRequest(`Store for identifier ${storeId} not found`);
    return store;
  }

  /** Like Glance, only bare images are inspected: other containers (ova, docker …) wrap the disk. */
  private inspection(image: Image, declaredSize: number | null, accepted: (virtualSize: number | null) => void): IngestOptions['inspect'] {
    if (image.container_format !== 'bare') return undefined;
    return {
      options: this.limits.imageFormat,
      check: (report: InspectionReport) => {
        assertDeclaredSize(declaredSize, report.size);
        const verdict = judgeUpload(report, image.disk_format as string, this.limits.imageFormat);
        if (!verdict.accepted && verdict.check === 'empty') throw new EmptyUpload();
        if (!verdict.accepted) {
          this.d.metrics.uploadRefusals.inc({ reason: verdict.check });
          throw unsupportedMediaType(verdict.reason);
        }
        accepted(verdict.virtualSize);
      },
    };
  }

  /** `PUT /stage`: the data waits in the staging area, named by image id as Glance names it. */
  async stage(ctx: RequestContext, id: string, data: IncomingData): Promise<void> {
    if (!this.limits.enabledImportMethods.includes('glance-direct')) {
      throw notFound("'glance-direct' method is not available at this site.");
    }
    const image = await this.writable(ctx, id, 'modify_image', 'uploading');
    const limit = await this.sizeLimit(image, 'image_stage_total');
    // Inspected already (when the image says what it is), so a hostile image is refused when it arrives,
    // not only when the import writes it to the store, where it is inspected again.
    const inspect = image.disk_format ? this.inspection(image, data.declaredSize, () => undefined) : undefined;
    const quota = { start: { image_stage_total: 0, image_count_uploading: 1 }, resource: 'image_stage_total' } as const;
    await this.write(image, 'uploading', this.staging, data, limit, inspect, callerOf(ctx), quota, async (stored, trx) => {
      await this.repo.update(image.id, { fields: { size: stored.size } }, 'uploading', undefined, trx);
    });
  }

  /** `clientAddress`: where the bytes go (image.send's destination_ip). */
  async download(ctx: RequestContext, id: string, range: RangeRequest | null, clientAddress: string | null = null): Promise<Download> {
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'download_image', target);
    if (image.status === 'deactivated' && !ctx.isAdmin) {
      throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    if (image.locations.length === 0 || image.size === null) return { image, body: null, range: null };
    const slice = range ? resolveRange(range, image.size) : null;
    const served = (body: Readable) => ({ image, body: this.counted(ctx, image, body, slice ? slice.end - slice.start + 1 : image.size!, clientAddress), range: slice ? { ...slice, total: image.size! } : null });
    // The caller's right to the data was checked above, exactly as for a store read.
    const cached = await this.d.cache?.read(image, slice ?? undefined);
    if (this.d.cache) this.d.metrics.cacheLookups.inc({ result: cached ? 'hit' : 'miss' });
    if (cached) return served(cached);
    // Locations are tried in order until a store serves one, as Glance does.
    let lastError: unknown = new GlimpseError('service_unavailable', `No configured store serves the data of image ${id}.`);
    for (const location of image.locations) {
      const store = this.stores.forLocation(location);
      if (!store) continue;
      try {
        const body = await store.get(location.url, slice ?? undefined, callerOf(ctx));
        // A whole read fills this node's cache on the way to the client.
        return served(slice || !this.d.cache ? body : await this.d.cache.fill(image, body));
      } catch (err) {
        lastError = err;
        this.d.metrics.storeErrors.inc({ store: store.id });
      }
    }
    throw lastError;
  }

  /** Counts the bytes a download sends: `image.send` when it ends, at ERROR priority when it ended short (Glance's rule). */
  private counted(ctx: RequestContext, image: Image, body: Readable, expected: number, clientAddress: string | null): Readable {
    let sent = 0;
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      this.d.notify.emit('image.send', sendPayload(image, sent, ctx, clientAddress), sent === expected ? 'INFO' : 'ERROR');
      this.d.metrics.bytesDownloaded.inc(sent);
    };
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        done(null, chunk);
      },
    });
    counter.on('end', report);
    counter.on('close', report);
    return pipeline(body, counter, () => undefined);
  }

  /** Uploads and stagings this process is receiving now. */
  get uploadsInFlight(): number {
    return this.writing.size;
  }

  /** `DELETE /v2/stores/{store}/{image}`: drops the image's data and location in one store. */
  async deleteFromStore(ctx: RequestContext, storeId: string, id: string): Promise<void> {
    if (!this.stores.multi) throw notFound('Multi backend is not supported at this site.');
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'delete_image_location', target);
    const store = this.stores.byId(storeId);
    if (!store) throw conflict(`Store for identifier ${storeId} not found`);
    if (image.status !== 'active') throw conflict(`It's not allowed to remove image data from store if image status is not 'active'`);
    const inStore = image.locations.filter((l) => this.stores.forLocation(l) === store);
    if (inStore.length === 0) throw notFound(`Image ${id} is not present in store ${storeId}`);
    if (inStore.length === image.locations.length) throw forbidden('Cannot delete image data from the only store containing it. Consider deleting the image instead.');
    await this.assertDeletable(ctx, image.id, inStore, 'data');
    await this.repo.update(image.id, { removeLocations: inStore.map((l) => l.url) }, 'active');
    await this.removeData(ctx, image.id, inStore);
  }

  /**
   * Before a record drops these locations (the whole image, or some of its
   * data): 409 while data that would be removed is in use outside Glimpse
   * (clones of an RBD snapshot), with Glance's message for each case.
   */
  async assertDeletable(ctx: RequestContext, imageId: string, locations: ImageLocation[], what: 'image' | 'data'): Promise<void> {
    const shared = await this.repo.sharedUrls(locations.map((l) => l.url), imageId);
    for (const location of locations.filter((l) => !shared.has(l.url))) {
      await this.stores
        .forLocation(location)
        ?.assertDeletable?.(location.url, callerOf(ctx))
        .catch((err: unknown) => {
          if (!(err instanceof GlimpseError && err.kind === 'conflict')) throw err;
          const subject = what === 'image' ? `Image ${imageId}` : `The data for Image ${imageId}`;
          throw conflict(`${subject} could not be deleted because it is in use: ${err.message}`);
        });
    }
  }

  /**
   * After a record dropped these locations: their data goes, except where a
   * location of another image still points to it (a location added by URL
   * can share data; deleting one image must not take another's bytes).
   * A failure leaves the data orphaned, logged; the record has changed.
   */
  async removeData(ctx: RequestContext, imageId: string, locations: ImageLocation[]): Promise<void> {
    const shared = await this.repo.sharedUrls(locations.map((l) => l.url), imageId);
    for (const location of locations.filter((l) => !shared.has(l.url))) {
      await this.stores
        .forLocation(location)
        ?.delete(location.url, callerOf(ctx))
        .catch((err: unknown) => this.d.log.warn({ err, image: imageId, location: location.url }, 'could not delete the data of a dropped location: it is orphaned in its store'));
    }
  }

  /** Removes the staged data of an image, if any (on delete, and once imported). */
  async unstage(imageId: string): Promise<void> {
    await this.staging.delete(this.staging.locationOf(imageId));
  }

  /**
   * At start-up and then every `recovery_interval_seconds`: writes this
   * host's dead processes left half-done go back to `queued` with their
   * partial files removed; so do images left `saving` (or `uploading` with
   * nothing staged) for over `write_stale_seconds` with no writer anywhere — a process
   * that died between its status change and its first byte, or between its
   * data's final rename and the status change (the store removes that data);
   * staged files of images that no longer exist are removed (as Glance's
   * API workers do), and so is data left in a file store by a delete whose
   * process died between the database and the store. This process's own
   * writes are never judged.
   */
  async recoverInterruptedWrites(now = new Date()): Promise<{ reset: string[]; unstaged: string[]; removed: string[] }> {
    const reset: string[] = [];
    const removed: string[] = [];
    const requeue = async (id: string, from: ImageStatus) => {
      const ok = await this.repo.update(id, { fields: { status: 'queued', ...NO_DATA } }, from).then(
        () => true,
        () => false,
      );
      if (ok) reset.push(id);
    };
    for (const store of this.stores.all) {
      for (const id of (await store.removeDeadPartials?.()) ?? []) await requeue(id, 'saving');
    }
    for (const id of (await this.staging.removeDeadPartials()) ?? []) await requeue(id, 'uploading');
    const stale = new Date(now.getTime() - this.limits.writeStaleMs);
    for (const id of await this.repo.idsInStatusSince('saving', stale)) {
      if (this.writing.has(id)) continue;
      // Every store must find no live writer; a store that cannot tell (unreachable, multi-tenant) keeps the image as it is.
      const released = await Promise.all(
        this.stores.all.map((s) => (s.releaseAbandoned?.(id, this.limits.writeStaleMs) ?? Promise.resolve(false)).catch(() => false)),
      );
      if (released.every(Boolean)) await requeue(id, 'saving');
    }
    const stagedIds = new Set(await this.staging.imageIds());
    for (const id of await this.repo.idsInStatusSince('uploading', stale)) {
      if (this.writing.has(id)) continue;
      if (!(await this.staging.writing(id)) && !stagedIds.has(id)) await requeue(id, 'uploading');
    }
    for (const store of this.stores.all) {
      if (!store.imageIds || !store.locationOf) continue;
      const held = (await store.imageIds()).map((id) => ({ id, url: store.locationOf!(id) }));
      for (const orphan of await this.repo.orphanedData(held)) {
        // Data still in use (a clone of an RBD snapshot) stays until its next sweep.
        const gone = await store.delete(orphan.url).then(
          () => true,
          (err: unknown) => {
            this.d.log.warn({ err, image: orphan.id, location: orphan.url }, 'the data of a deleted image could not be removed yet: the next sweep tries again');
            return false;
          },
        );
        if (gone) removed.push(orphan.id);
      }
    }
    const staged = await this.staging.imageIds();
    const live = await this.repo.liveIds(staged.map((n) => n.split('.')[0]));
    const unstaged = staged.filter((n) => !live.has(n.split('.')[0]));
    for (const name of unstaged) await this.staging.delete(this.staging.locationOf(name));
    return { reset, unstaged, removed };
  }

  /** Loads, authorizes and moves the image out of `queued` (compare-and-set: one writer wins). */
  private async writable(ctx: RequestContext, id: string, action: 'upload_image' | 'modify_image', to: ImageStatus): Promise<Image> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, action, target);
    if (image.status !== 'queued') {
      throw conflict(`Image status transition from '${image.status}' to '${to}' is not allowed`);
    }
    return image;
  }

  private async write(
    image: Image,
    status: 'saving' | 'uploading',
    store: ImageStore,
    data: IncomingData,
    limit: { maxBytes: number; message: string },
    inspect: IngestOptions['inspect'],
    caller: StoreCaller,
    quota: { start: QuotaDeltas; resource: 'image_size_total' | 'image_stage_total' },
    commit: (stored: IngestResult, trx: Trx) => Promise<void>,
  ): Promise<void> {
    const known = Math.max(data.declaredSize ?? 0, data.contentLength ?? 0);
    if (known > limit.maxBytes) throw tooLarge(limit.message);
    if (this.writing.size >= this.limits.maxConcurrentUploads) {
      throw new GlimpseError(
        'service_unavailable',
        `This node is receiving ${this.writing.size} uploads already (max_concurrent_uploads); try again shortly.`,
        { 'retry-after': '5' },
      );
    }
    // Counted and moved out of queued under the project's quota lock: concurrent uploads cannot both take the last slot.
    await this.d.quotas.within(image.owner, quota.start, (trx) => this.repo.update(image.id, { fields: { status } }, 'queued', undefined, trx));
    this.writing.add(image.id);
    let location: string | null = null;
    try {
      const stored = await ingest(store, image.id, data.body, {
        hashingAlgorithm: this.limits.hashingAlgorithm,
        expectedSize: data.declaredSize ?? data.contentLength,
        maxBytes: limit.maxBytes,
        limitMessage: limit.message,
        signal: data.signal,
        inspect,
        caller,
      });
      location = stored.location;
      assertDeclaredSize(data.declaredSize, stored.size);
      // Multi-tenant stores: who may read the data is set before the image is seen active.
      if (status === 'saving') await this.d.sharing.sync(caller, image, [location]);
      // The bytes are counted against the project's limits when they become its own, under the same lock as every other such change.
      await this.d.quotas.within(image.owner, { [quota.resource]: stored.size }, (trx) => commit(stored, trx)).catch((err: unknown) => {
        // The guard failed: the image was deleted (or changed) while its data arrived.
        if (err instanceof GlimpseError && err.kind === 'conflict') throw gone(`Image ${image.id} was deleted during the upload; its data was removed.`);
        throw err;
      });
    } catch (err) {
      if (location) {
        await store.delete(location, caller).catch((e: unknown) => this.d.log.warn({ err: e, image: image.id, location }, 'could not remove the data of a failed upload: it is left in the store'));
      }
      // Back to queued unless something else moved it on (a delete): then the guard fails, as it should.
      await this.repo.update(image.id, { fields: { status: 'queued', ...NO_DATA } }, status).catch((e: unknown) => {
        // Expected when a delete won the race; anything else leaves the image to the recovery sweep.
        if (!(e instanceof GlimpseError && e.kind === 'conflict')) this.d.log.warn({ err: e, image: image.id }, 'a failed upload could not put its image back to queued; recovery will');
      });
      throw err;
    } finally {
      this.writing.delete(image.id);
    }
  }

  /** The most this write may bring (image_size_cap and what the project's quotas leave), from one read of its usage. */
  private sizeLimit(image: Image, resource: 'image_size_total' | 'image_stage_total'): Promise<{ maxBytes: number; message: string }> {
    return this.d.quotas.allowance(image.owner, resource, this.limits.imageSizeCap);
  }
}

/** A bare upload that brought no byte: the write is undone and the image left queued. */
class EmptyUpload extends Error {
  constructor() {
    super('the upload was empty');
  }
}

function assertDeclaredSize(declared: number | null, received: number): void {
  if (declared !== null && received !== declared) {
    throw badRequest(`Image size mismatch: ${declared} bytes were declared but ${received} were received.`);
  }
}

function resolveRange(r: RangeRequest, size: number): ByteRange {
  let start: number;
  let end: number;
  if (r.start === null) {
    const n = r.end ?? 0;
    if (n === 0) throw rangeNotSatisfiable('Requested range not satisfiable');
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = r.start;
    if (r.strictEnd && r.end !== null && r.end > size - 1) throw rangeNotSatisfiable('Requested range not satisfiable');
    end = Math.min(r.end ?? size - 1, size - 1);
  }
  if (start >= size || start > end) throw rangeNotSatisfiable('Requested range not satisfiable');
  return { start, end };
}
