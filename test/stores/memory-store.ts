/**
 * The reference store: the ImageStore contract in its plainest form, bytes
 * in a map. It exists for the conformance suite, which runs over it as over
 * every real backend, so a check that only one backend's quirks satisfy
 * shows up as a failure here. Test code only: production stores never hold
 * an image in memory.
 */
import { Readable } from 'node:stream';
import { conflict, notFound } from '../../src/domain/errors.js';
import type { ByteRange, ImageStore } from '../../src/store/image-store.js';

export class MemoryStore implements ImageStore {
  readonly type = 'memory';
  private readonly objects = new Map<string, Buffer>();

  constructor(readonly id: string) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal } = {}) {
    const location = this.locationOf(imageId);
    if (this.objects.has(location)) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const chunks: Buffer[] = [];
    for await (const chunk of data) {
      options.signal?.throwIfAborted();
      chunks.push(chunk as Buffer);
    }
    options.signal?.throwIfAborted();
    const bytes = Buffer.concat(chunks);
    this.objects.set(location, bytes);
    return { location, size: bytes.length };
  }

  owns(location: string): boolean {
    return location.startsWith(`memory://${this.id}/`);
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const bytes = this.objects.get(location);
    if (!bytes) throw notFound(`Image data not found at ${location}`);
    return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]);
  }

  async delete(location: string): Promise<void> {
    this.objects.delete(location);
  }

  async imageIds(): Promise<string[]> {
    return [...this.objects.keys()].map((l) => l.slice(`memory://${this.id}/`.length));
  }

  locationOf(imageId: string): string {
    return `memory://${this.id}/${imageId}`;
  }
}
