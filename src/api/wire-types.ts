/**
 * The shapes Glimpse's own clients (the `glimpse` CLI and the dashboard) read
 * from the API: one set, so that the two never drift apart from the server.
 * Types only: the dashboard's bundle takes nothing else from the server's code.
 */

/** An image record as GET /v2/images/{id} returns it. */
export interface Image {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  os_hidden: boolean;
  owner: string | null;
  size: number | null;
  virtual_size: number | null;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  created_at: string;
  updated_at: string;
  tags: string[];
  locations?: { url: string; metadata: Record<string, unknown> }[];
  direct_url?: string;
  stores?: string;
  /** Extra properties: strings as Glance stores them. */
  [property: string]: unknown;
}

export interface ImageList {
  images: Image[];
  next?: string;
}

export interface Member {
  image_id: string;
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface MemberList {
  members: Member[];
}

/** GET /v2/cache: times are epoch seconds, 0 for never. */
export interface CacheState {
  cached_images: { image_id: string; hits: number; size: number; last_accessed: number; last_modified: number }[];
  queued_images: string[];
}

/** Glimpse's additions: the readiness report of an image (GET /v2/glimpse/images/{id}/insight). */
export type { Check, InsightReport, Suggestion } from '../domain/insight.js';

/** An image's ancestors and descendants (GET /v2/glimpse/images/{id}/lineage). */
export interface LineageImage {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  created_at: string;
  /** The property that links it to the image before it: base_image_ref or glimpse_derived_from. */
  via?: string;
}

export interface Lineage extends LineageImage {
  /** Where a web-download took the data from. */
  source_url: string | null;
  /** The disk_format an import converted from. */
  converted_from: string | null;
  /** The store a copy-image copied from. */
  copied_from: string | null;
  ancestors: LineageImage[];
  descendants: LineageImage[];
}

/** A family and its versions, newest first (GET /v2/glimpse/families/{family}). */
export interface Family {
  family: string;
  latest: Image | null;
  versions: Image[];
}
