/** What the dashboard derives from the API's image records. */
import type { Image } from '../api/wire-types';

/** Everything that is not an extra property (base schema fields and links). */
const CORE = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'owner', 'size', 'virtual_size', 'disk_format',
  'container_format', 'min_disk', 'min_ram', 'checksum', 'os_hash_algo', 'os_hash_value', 'created_at', 'updated_at',
  'tags', 'locations', 'direct_url', 'stores', 'self', 'file', 'schema',
]);

export function extraProperties(image: Image): [string, string][] {
  return Object.entries(image)
    .filter(([k]) => !CORE.has(k))
    .map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Statuses during which the record changes by itself: the table polls while one is shown. */
export const BUSY_STATUSES = new Set(['saving', 'importing', 'uploading']);

export interface ImageSchema {
  properties: Record<string, { enum?: (string | null)[]; description?: string }>;
}

/** The enums of the server's own image schema (its configured disk and container formats). */
export function schemaEnum(schema: ImageSchema | null, field: string): string[] {
  return (schema?.properties[field]?.enum ?? []).filter((v): v is string => typeof v === 'string');
}
