/**
 * One small interface for every place image bytes live (Glance's stores).
 * Backends only move bytes: hashing, size limits and format inspection happen
 * once, outside them, in `ingest.ts`.
 */
import type { Readable } from 'node:stream';

/** An inclusive byte range, as HTTP ranges are. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Whom the bytes are moved for. Only multi-tenant stores use it: they act
 * in the caller's own account with the caller's own token, as Glance's
 * multi-tenant Swift store does.
 */
export interface StoreCaller {
  token: string | null;
  projectId: string | null;
}

/** Who may read an image's data directly in a multi-tenant store (Glance's `set_acls`). */
export interface DataAcl {
  public: boolean;
  readProjects: string[];
}

export interface ImageStore {
  /** The store id (`enabled_backends` key; `file` in single-store mode). */
  readonly id: string;
  readonly type: string;
  /**
   * Writes the stream under the image's id. The data becomes visible only when
   * the promise resolves; a failed or aborted add leaves nothing behind.
   * `size`, when the client announced it, lets object stores pick one object
   * or a segmented one up front.
   */
  add(
    imageId: string,
    data: Readable,
    options?: { signal?: AbortSignal; size?: number | null; caller?: StoreCaller },
  ): Promise<{ location: string; size: number }>;
  /** Whether a location URI belongs to this store. */
  owns(location: string): boolean;
  get(location: string, range?: ByteRange, caller?: StoreCaller): Promise<Readable>;
  /** Stores that can vouch for a location added by a client: the size of the data there (0 or a rejection when there is none). */
  size?(location: string, caller?: StoreCaller): Promise<number>;
  /** Idempotent: deleting missing data succeeds. */
  delete(location: string, caller?: StoreCaller): Promise<void>;
  /**
   * Stores whose data can be in use outside Glimpse (RBD snapshots cloned by
   * Nova or Cinder): throws a conflict while it is, before anything is deleted.
   */
  assertDeletable?(location: string, caller?: StoreCaller): Promise<void>;
  /** Multi-tenant stores: who may read the data where it lies, kept in step with the image's visibility and members. */
  setAcl?(location: string, acl: DataAcl, caller: StoreCaller): Promise<void>;
  /**
   * For stores whose writes can outlive a crashed writer: removes what dead
   * writers left and returns their image ids.
   */
  removeDeadPartials?(): Promise<string[]>;
  /**
   * For an image stuck mid-write: false if some writer (on any host) is still
   * writing its data; else removes any data written but never activated and
   * returns true.
   */
  releaseAbandoned?(imageId: string, graceMs: number): Promise<boolean>;
  /**
   * Stores that can list what they hold cheaply (a directory): the image ids
   * with data here, and the location of each, so recovery can remove the data
   * of images deleted by a process that died before removing it.
   */
  imageIds?(): Promise<string[]>;
  locationOf?(imageId: string): string;
  /** Stores that write one image at a time in a visible place: whether some writer (any host) is writing this image now. */
  writing?(imageId: string): Promise<boolean>;
  /** Stores that hold a connection (the RBD cluster): releases it at shutdown. */
  close?(): Promise<void>;
  /** Stores whose data is a local file: its path, for tools that need one (qemu-img); null for a location not of this store. */
  localPath?(location: string): string | null;
}

/**
 * The staging area (`node_staging_uri`) is a store like the others, with the
 * capabilities interrupted imports and the conversion plugin rely on.
 */
export type StagingStore = ImageStore & Required<Pick<ImageStore, 'locationOf' | 'imageIds' | 'removeDeadPartials' | 'writing' | 'localPath'>>;
