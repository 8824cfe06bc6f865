/**
 * glance_store's read-only http store: an image whose location is an
 * http(s) URL is served by streaming that URL. The URL came from a client,
 * so every request, redirects included, passes web-download's SSRF rules
 * (`[import_filtering_opts]`: no internal addresses, only allowed schemes,
 * hosts and ports). Nothing is ever written or deleted there: adds are
 * refused (410, as glance_store's StoreAddDisabled) and a delete forgets the
 * location, leaving the data to whoever serves it.
 */
import type { Readable } from 'node:stream';
import { gone, notFound } from '../domain/errors.js';
import { safeGet } from '../net/safe-get.js';
import { type ImportFilter, UrlRefused } from '../net/url-filter.js';
import type { ByteRange, ImageStore } from './image-store.js';

export class HttpStore implements ImageStore {
  readonly type = 'http';

  constructor(
    readonly id: string,
    private readonly filter: ImportFilter,
  ) {}

  async add(): Promise<never> {
    throw gone('Error in store configuration. Adding images to store is disabled.');
  }

  owns(location: string): boolean {
    return /^https?:\/\//i.test(location);
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    return (await this.fetch(location, range ? { range } : {})).body;
  }

  async size(location: string): Promise<number> {
    const { body, size } = await this.fetch(location, { method: 'HEAD' });
    body.resume();
    return size ?? 0;
  }

  async delete(): Promise<void> {}

  private async fetch(location: string, o: { method?: 'HEAD'; range?: ByteRange }) {
    try {
      return await safeGet(location, this.filter, o);
    } catch (err) {
      if (err instanceof UrlRefused) throw notFound(`Image data at ${location} cannot be read: ${err.message}`);
      throw err;
    }
  }
}
