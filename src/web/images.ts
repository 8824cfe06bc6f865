/** The image record as the API returns it, and what the dashboard derives from it. */
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
  [property: string]: unknown;
}

export interface ImageList {
  images: Image[];
  next?: string;
}

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
