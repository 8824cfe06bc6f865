/**
 * Image bytes: upload (queued → saving → active), download (whole or one
 * range). The upload is one streaming pass — limit, hashes, store — and the
 * status changes are compare-and-sets, so concurrent uploads and deletes
 * cannot corrupt an image: whatever fails, the image goes back to `queued`
 * and no partial data is kept.
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../auth/context.js';
import type { ImagesRepository } from '../db/images-repo.js';
import { GlimpseError, badRequest, conflict, forbidden, gone } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import type { ByteRange, ImageStore } from '../store/image-store.js';
import { ingest } from '../store/ingest.js';
import type { ImagesService } from './images.js';

export interface DataLimits {
  imageSizeCap: number;
  userStorageQuota: number;
  hashingAlgorithm: string;
}

export interface Download {
  image: Image;
  body: Readable | null;
  /** The served slice, when a range was asked for. */
  range: (ByteRange & { total: number }) | null;
}

export class ImageDataService {
  constructor(
    private readonly images: ImagesService,
    private readonly repo: ImagesRepository,
    private readonly store: ImageStore,
    private readonly stores: readonly ImageStore[],
    private readonly limits: DataLimits,
  ) {}

  async upload(ctx: RequestContext, id: string, body: Readable, declaredSize: number | null, signal?: AbortSignal): Promise<void> {
    if (ctx.readOnly) throw forbidden('Read-only access');
    const { image, target } = await this.images.load(ctx, id);
    this.images.authorize(ctx, 'upload_image', target);
    if (image.status !== 'queued') {
      throw conflict(`Image status transition from '${image.status}' to 'saving' is not allowed`);
    }
    if (!image.disk_format || !image.container_format) {
      throw badRequest('Properties disk_format, container_format must be set prior to saving data.');
    }
    const { maxBytes, message } = await this.sizeLimit(image);
    if (declaredSize !== null && declaredSize > maxBytes) throw new GlimpseError('too_large', message);

    await this.repo.update(id, { fields: { status: 'saving' } }, 'queued');
    let location: string | null = null;
    try {
      const stored = await ingest(this.store, id, body, {
        hashingAlgorithm: this.limits.hashingAlgorithm,
        maxBytes,
        limitMessage: message,
        signal,
      });
      location = stored.location;
      if (declaredSize !== null && stored.size !== declaredSize) {
        throw badRequest(`Image size mismatch: ${declaredSize} bytes were declared but ${stored.size} were received.`);
      }
      const { location: url, ...data } = stored;
      await this.activate(id, url, { ...data, virtual_size: null });
    } catch (err) {
      if (location) await this.store.delete(location).catch(() => undefined);
      await this.repo.update(id, { fields: { status: 'queued', size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null } }, 'saving').catch(() => undefined);
      throw err;
    }
  }

  async download(ctx: RequestContext, id: string, range: RangeRequest | null): Promise<Download> {
    const { image, target } = await this.images.load(ctx, id);
    this.images.authorize(ctx, 'download_image', target);
    if (image.status === 'deactivated' && !ctx.isAdmin) {
      throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    const location = image.locations[0];
    if (!location || image.size === null) return { image, body: null, range: null };
    const store = this.stores.find((s) => s.owns(location.url));
    if (!store) throw new GlimpseError('service_unavailable', `No configured store serves the location of image ${id}.`);
    const slice = range ? resolveRange(range, image.size) : null;
    const body = await store.get(location.url, slice ?? undefined);
    return { image, body, range: slice ? { ...slice, total: image.size } : null };
  }

  /** saving → active, unless the image was deleted meanwhile: then 410 and the data goes. */
  private async activate(id: string, location: string, data: Pick<Image, 'size' | 'checksum' | 'os_hash_algo' | 'os_hash_value' | 'virtual_size'>) {
    try {
      await this.repo.update(
        id,
        { fields: { ...data, status: 'active' }, addLocations: [{ url: location, metadata: {} }] },
        'saving',
      );
    } catch (err) {
      if (err instanceof GlimpseError && err.kind === 'conflict') {
        throw gone(`Image ${id} was deleted during the upload; its data was removed.`);
      }
      throw err;
    }
  }

  private async sizeLimit(image: Image): Promise<{ maxBytes: number; message: string }> {
    const cap = this.limits.imageSizeCap;
    return {
      maxBytes: cap,
      message: `Image exceeds the storage quota: the image size cap is ${cap} bytes (image ${image.id}).`,
    };
  }
}

/** A parsed Range header: `bytes=a-b`, `bytes=a-` or `bytes=-n`. */
export type RangeRequest = { start: number | null; end: number | null };

function resolveRange(r: RangeRequest, size: number): ByteRange {
  let start: number;
  let end: number;
  if (r.start === null) {
    const n = r.end ?? 0;
    if (n === 0) throw new GlimpseError('range_not_satisfiable', 'Requested range not satisfiable');
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = r.start;
    end = Math.min(r.end ?? size - 1, size - 1);
  }
  if (start >= size || start > end) throw new GlimpseError('range_not_satisfiable', 'Requested range not satisfiable');
  return { start, end };
}
