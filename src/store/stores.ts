/**
 * The configured stores as one set, in configuration order: the default, lookup by id, and
 * the store that holds a given location — by its `metadata.store` in
 * multi-store mode (as Glance), else by its URI.
 */
import type { StoreConfig } from '../config/options.js';
import type { ImageLocation } from '../domain/image.js';
import type { ImportFilter } from '../net/url-filter.js';
import { FileStore } from './file-store.js';
import { HttpStore } from './http-store.js';
import type { ImageStore } from './image-store.js';
import { RbdStore } from './rbd-store.js';
import { S3Store } from './s3-store.js';
import { type StorageUrlLookup, SwiftStore } from './swift-store.js';

export class StoreSet {
  constructor(
    readonly all: readonly ImageStore[],
    /** `enabled_backends` is on: ids are public and recorded in location metadata. */
    readonly multi: boolean,
    private readonly defaultId: string = all[0].id,
  ) {}

  get default(): ImageStore {
    return this.byId(this.defaultId) ?? this.all[0];
  }

  byId(id: string): ImageStore | undefined {
    return this.all.find((s) => s.id === id);
  }

  forLocation(location: ImageLocation): ImageStore | undefined {
    const named = typeof location.metadata.store === 'string' ? this.byId(location.metadata.store) : undefined;
    return named ?? this.all.find((s) => s.owns(location.url));
  }

  /** The read-only http store, if one is configured. */
  httpStore(): ImageStore | undefined {
    return this.all.find((s) => s.type === 'http');
  }

  /** What a new location records about its store. */
  metadataFor(store: ImageStore): Record<string, string> {
    return this.multi ? { store: store.id } : {};
  }
}

/** What stores share beyond their own settings: the Keystone catalog lookup (multi-tenant Swift) and the writers' heartbeat. */
export interface StoreRuntime {
  storageUrlOf: StorageUrlLookup | null;
  heartbeatMs: number;
  /** Whether file stores write with O_DIRECT. */
  directIo: boolean;
  /** Whether file stores read a direct write back into the page cache (see file-write.ts). */
  cacheUploads: boolean;
  /** `[import_filtering_opts]`: the URLs http stores may read. */
  importFilter: ImportFilter;
}

export function createStores(configs: readonly StoreConfig[], multi: boolean, runtime: StoreRuntime, defaultId = configs[0].id): StoreSet {
  return new StoreSet(
    configs.map((c) => {
      switch (c.type) {
        case 'file':
          return new FileStore(c.id, c.dir, { directIo: runtime.directIo, cacheUploads: runtime.cacheUploads, thin: c.thin });
        case 'swift':
          return new SwiftStore(c.id, c.swift, runtime);
        case 's3':
          return new S3Store(c.id, c.s3, runtime);
        case 'rbd':
          return new RbdStore(c.id, c.rbd);
        case 'http':
          return new HttpStore(c.id, runtime.importFilter);
      }
    }),
    multi,
    defaultId,
  );
}
