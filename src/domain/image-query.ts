/**
 * The image list as a query model: the columns a list may filter and sort
 * on, the filters, and what one page asks for. Parsed from the request by
 * services/image-list-query.ts, turned into SQL by db/image-list-sql.ts.
 */
import type { Image, Visibility } from './image.js';
import type { Viewer } from './visibility.js';

export const IMAGE_COLUMNS = [
  'id', 'name', 'size', 'status', 'disk_format', 'container_format', 'checksum', 'owner', 'min_disk', 'min_ram',
  'protected', 'virtual_size', 'visibility', 'os_hidden', 'os_hash_algo', 'os_hash_value', 'created_at', 'updated_at',
] as const;
export type ImageColumn = (typeof IMAGE_COLUMNS)[number];
export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export type FilterOp = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in';
export type FilterValue = string | number | boolean | Date;
export interface ColumnFilter {
  column: ImageColumn;
  op: FilterOp;
  value: FilterValue | FilterValue[];
}

export interface ImageListQuery {
  viewer: Viewer;
  memberStatus: 'accepted' | 'pending' | 'rejected' | 'all';
  visibility: Visibility | 'all' | null;
  osHidden: boolean;
  filters: ColumnFilter[];
  properties: [string, string][];
  tags: string[];
  sort: { key: SortKey; dir: 'asc' | 'desc' }[];
  marker: Image | null;
  limit: number;
}
