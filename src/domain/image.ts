/**
 * The image model and its rules. Field names are Glance's own (snake_case):
 * they are the same in the database, here and on the wire, so no layer has to
 * translate them.
 */
import { badRequest, conflict, forbidden } from './errors.js';

export const IMAGE_STATUSES = [
  'queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const VISIBILITIES = ['community', 'public', 'private', 'shared'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface ImageLocation {
  url: string;
  metadata: Record<string, unknown>;
}

export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  owner: string | null;
  size: number | null;
  virtual_size: number | null;
  container_format: string | null;
  disk_format: string | null;
  min_ram: number;
  min_disk: number;
  created_at: Date;
  updated_at: Date;
  /** Extra (custom) properties, including service-set os_glance_* ones. */
  properties: Record<string, string>;
  tags: string[];
  locations: ImageLocation[];
}

/** Glance's valid_state_targets: the only status changes allowed. */
const TRANSITIONS: Record<ImageStatus, readonly ImageStatus[]> = {
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  saving: ['active', 'killed', 'deleted', 'queued'],
  uploading: ['importing', 'queued', 'deleted'],
  importing: ['active', 'deleted', 'queued'],
  active: ['pending_delete', 'deleted', 'deactivated'],
  deactivated: ['active', 'deleted'],
  killed: ['deleted'],
  pending_delete: ['deleted', 'active'],
  deleted: [],
};

/**
 * The one check of a status change: `to`, if Glance allows moving there from
 * every status in `from`; else a 409. Every change of status is written as a
 * compare-and-set from known statuses (images-repo.update), which calls this.
 */
export function transition(from: ImageStatus | readonly ImageStatus[], to: ImageStatus): ImageStatus {
  const refused = [from].flat().filter((f) => f !== to && !TRANSITIONS[f].includes(to));
  if (refused.length) throw conflict(`Image status transition from '${refused.join("' or '")}' to '${to}' is not allowed`);
  return to;
}

/** Base attributes a client may set on create (validated against the image schema). */
export const SETTABLE_BASE = [
  'id', 'name', 'visibility', 'protected', 'os_hidden', 'container_format', 'disk_format',
  'min_ram', 'min_disk', 'owner', 'tags',
] as const;

/** Attributes the service alone sets: any attempt to write them is a 403. */
export const READ_ONLY = [
  'created_at', 'updated_at', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size',
  'direct_url', 'self', 'file', 'schema', 'stores',
] as const;

/** Names that are reserved for the service: 403 "is reserved". */
const RESERVED = ['location', 'deleted', 'deleted_at', 'locations'] as const;
export const RESERVED_PREFIX = 'os_glance';

/** Service-set properties never shown to clients. */
export const HIDDEN_PROPERTIES = new Set(['os_glance_stage_host', 'os_glance_hash_op_host']);

export function isReadOnly(key: string): boolean {
  return (READ_ONLY as readonly string[]).includes(key);
}

export function isReserved(key: string): boolean {
  return (RESERVED as readonly string[]).includes(key) || key.startsWith(RESERVED_PREFIX);
}

export function isBaseAttribute(key: string): boolean {
  return (
    (SETTABLE_BASE as readonly string[]).includes(key) ||
    (READ_ONLY as readonly string[]).includes(key) ||
    key === 'locations'
  );
}

/** Refuses a key the caller may never write (create or patch). */
export function assertWritableKey(key: string): void {
  if (isReadOnly(key)) throw forbidden(`Attribute '${key}' is read-only.`);
  if (isReserved(key)) throw forbidden(`Attribute '${key}' is reserved.`);
}

/** Custom properties counted against image_property_quota (os_glance_* are not). */
export function countedProperties(properties: Record<string, string>): number {
  return Object.keys(properties).filter((k) => !k.startsWith(RESERVED_PREFIX)).length;
}

/** The fields an image without data has: what a failed or undone write resets. */
export const NO_DATA = { size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null } as const;

export const MAX_INT32 = 2 ** 31 - 1;
export const MAX_STRING_LENGTH = 255;

/** MySQL's utf8mb3 cannot hold 4-byte characters, so Glance refuses them everywhere. */
export function assertNo4ByteChars(value: string, what: string): void {
  for (const ch of value) {
    if (ch.codePointAt(0)! > 0xffff) throw badRequest(`${what} contains 4-byte UTF-8 characters, which are not supported.`);
  }
}

export function assertTag(tag: string): void {
  if (tag.length > MAX_STRING_LENGTH) throw badRequest(`Tag is too long: at most ${MAX_STRING_LENGTH} characters are allowed.`);
  if (tag.length === 0) throw badRequest('Tag must not be empty.');
  assertNo4ByteChars(tag, 'Tag');
}

/** Entering `queued` forgets any data the image had. */
export function resetData(image: Image): void {
  image.size = null;
  image.virtual_size = null;
  image.checksum = null;
  image.os_hash_algo = null;
  image.os_hash_value = null;
}
