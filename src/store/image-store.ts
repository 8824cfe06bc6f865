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
  add(imageId: string, data: Readable, options?: { signal?: AbortSignal; size?: number | null }): Promise<{ location: string; size: number }>;
  /** Whether a location URI belongs to this store. */
  owns(location: string): boolean;
  get(location: string, range?: ByteRange): Promise<Readable>;
  /** Idempotent: deleting missing data succeeds. */
  delete(location: string): Promise<void>;
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
  releaseAbandoned?(imageId: string): Promise<boolean>;
}
