/**
 * `GET /v2/images` query parameters, read exactly as Glance reads them:
 * paging and sorting, the visibility and member-status selectors, column
 * filters with their operators, tags, and everything else as property filters.
 */
import { badRequest } from '../domain/errors.js';
import { VISIBILITIES, type Visibility } from '../domain/image.js';
import {
  type ColumnFilter,
  type FilterOp,
  IMAGE_COLUMNS,
  type ImageColumn,
  type ImageListQuery,
  SORT_KEYS,
  type SortKey,
} from '../domain/image-query.js';

export type QueryPairs = [string, string][];

export interface ParsedListQuery extends Omit<ImageListQuery, 'viewer' | 'marker'> {
  markerId: string | null;
}

const PAGING_KEYS = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'member_status', 'tag', 'visibility', 'os_hidden']);
const OPERATOR_COLUMNS = new Set<ImageColumn>(['name', 'id', 'status', 'container_format', 'disk_format']);
const TIME_COLUMNS = new Set<ImageColumn>(['created_at', 'updated_at']);
const INT_COLUMNS = new Set<ImageColumn>(['size', 'virtual_size', 'min_ram', 'min_disk']);
const TIME_OPS: FilterOp[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

export interface ListLimits {
  limitParamDefault: number;
  apiLimitMax: number;
  /** `[glimpse] max_list_filters`: each filter is a condition the database checks per candidate image. */
  maxListFilters: number;
}

export function parseListQuery(pairs: QueryPairs, limits: ListLimits): ParsedListQuery {
  const all = (key: string) => pairs.filter(([k]) => k === key).map(([, v]) => v);
  const last = (key: string) => all(key).at(-1);

  const filters: ColumnFilter[] = [];
  const properties: [string, string][] = [];
  for (const [key, value] of pairs) {
    if (PAGING_KEYS.has(key)) continue;
    if (key === 'changes-since') throw badRequest('The "changes-since" filter is no longer available on v2.');
    const column = (IMAGE_COLUMNS as readonly string[]).includes(key) ? (key as ImageColumn) : null;
    const range = /^(.+)_(min|max)$/.exec(key);
    if (column) filters.push(columnFilter(column, value));
    else if (range && INT_COLUMNS.has(range[1] as ImageColumn)) {
      filters.push({ column: range[1] as ImageColumn, op: range[2] === 'min' ? 'gte' : 'lte', value: integer(key, value) });
    } else properties.push([key, value]);
  }

  const tags = all('tag');
  const count = filters.length + properties.length + tags.length;
  if (count > limits.maxListFilters) {
    throw badRequest(`Too many filters: ${count} were given, and at most ${limits.maxListFilters} are allowed in one request (max_list_filters).`);
  }
  return {
    limit: parseLimit(last('limit'), limits),
    markerId: last('marker') ?? null,
    sort: parseSort(all('sort_key'), all('sort_dir'), last('sort')),
    memberStatus: oneOf(last('member_status') ?? 'accepted', ['accepted', 'pending', 'rejected', 'all'], 'member_status'),
    visibility: parseVisibility(last('visibility')),
    osHidden: parseOsHidden(last('os_hidden')),
    filters,
    properties,
    tags,
  };
}

function parseLimit(raw: string | undefined, limits: { limitParamDefault: number; apiLimitMax: number }): number {
  if (raw === undefined) return Math.min(limits.limitParamDefault, limits.apiLimitMax);
  if (!/^-?\d+$/.test(raw.trim())) throw badRequest('limit param must be an integer');
  const limit = Number(raw);
  if (limit < 0) throw badRequest('limit param must be positive');
  return Math.min(limit, limits.apiLimitMax);
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw badRequest(`Invalid ${what} value: ${value}. It must be one of: ${allowed.join(', ')}.`);
  }
  return value as T;
}

function parseVisibility(raw: string | undefined): Visibility | 'all' | null {
  if (raw === undefined) return null;
  return oneOf(raw, [...VISIBILITIES, 'all'] as const, 'visibility');
}

function parseOsHidden(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (lower !== 'true' && lower !== 'false') throw badRequest(`Invalid value for os_hidden: ${raw}. It must be true or false.`);
  return lower === 'true';
}

function parseSort(keys: string[], dirs: string[], sort: string | undefined): ParsedListQuery['sort'] {
  let pairs: { key: string; dir: string }[];
  let singleDir: string | null = null;
  if (sort !== undefined) {
    if (keys.length || dirs.length) throw badRequest('The "sort" parameter cannot be combined with "sort_key" or "sort_dir".');
    pairs = sort.split(',').map((part) => {
      const [key, dir = 'desc', extra] = part.trim().split(':');
      if (extra !== undefined) throw badRequest(`Invalid sort value: ${part}`);
      return { key: key.trim(), dir: dir.trim() };
    });
  } else {
    const sortKeys = keys.length ? keys : ['created_at'];
    if (dirs.length > 1 && dirs.length !== sortKeys.length) {
      throw badRequest('Number of sort dirs does not match the number of sort keys');
    }
    singleDir = dirs.length === 1 ? dirs[0] : null;
    pairs = sortKeys.map((key, i) => ({ key, dir: dirs.length === 0 ? 'desc' : (dirs[i] ?? dirs[0]) }));
  }
  const parsed = pairs.map(({ key, dir }) => {
    if (!(SORT_KEYS as readonly string[]).includes(key)) throw badRequest(`Invalid sort key: ${key}. It must be one of: ${SORT_KEYS.join(', ')}.`);
    if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${dir}`);
    return { key: key as SortKey, dir: dir as 'asc' | 'desc' };
  });
  // Glance appends created_at then id as tie-breakers, in the one direction given (else desc).
  const tieDir = (sort === undefined ? singleDir : null) ?? 'desc';
  for (const key of ['created_at', 'id'] as const) {
    if (!parsed.some((p) => p.key === key)) parsed.push({ key, dir: tieDir as 'asc' | 'desc' });
  }
  return parsed;
}

function columnFilter(column: ImageColumn, value: string): ColumnFilter {
  if (TIME_COLUMNS.has(column)) return timeFilter(column, value);
  if (OPERATOR_COLUMNS.has(column)) {
    const colon = value.indexOf(':');
    if (colon === -1) return { column, op: 'eq', value };
    const op = value.slice(0, colon);
    const operand = value.slice(colon + 1);
    if (op === 'eq') return { column, op: 'eq', value: operand };
    if (op === 'in') return { column, op: 'in', value: splitQuoted(operand) };
    throw badRequest(`Invalid operator "${op}" for ${column}; use eq:VALUE to match a value containing ":"`);
  }
  if (column === 'protected') {
    if (value !== 'true' && value !== 'false') throw badRequest(`Invalid value for protected: ${value}. It must be true or false.`);
    return { column, op: 'eq', value: value === 'true' };
  }
  if (INT_COLUMNS.has(column)) return { column, op: 'eq', value: integer(column, value) };
  return { column, op: 'eq', value };
}

function timeFilter(column: ImageColumn, value: string): ColumnFilter {
  const m = /^([a-z]+):(.*)$/.exec(value);
  let op: FilterOp = 'eq';
  let stamp = value;
  if (m && !/^\d/.test(value)) {
    if (!TIME_OPS.includes(m[1] as FilterOp)) throw badRequest(`Invalid operator "${m[1]}" for ${column}: use one of ${TIME_OPS.join(', ')}`);
    op = m[1] as FilterOp;
    stamp = m[2];
  }
  return { column, op, value: parseIsoTime(stamp) };
}

export function parseIsoTime(value: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) throw badRequest(`Invalid timestamp "${value}": expected ISO 8601, such as 2026-01-31T12:00:00Z`);
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', tz = 'Z'] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${tz.length === 5 ? `${tz.slice(0, 3)}:${tz.slice(3)}` : tz}`);
  if (Number.isNaN(date.getTime())) throw badRequest(`Invalid timestamp "${value}"`);
  return date;
}

/** Integers a BIGINT column can compare with (sizes are 64-bit), exactly representable here. */
function integer(what: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw badRequest(`Invalid value for ${what}: ${value}. It must be an integer.`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw badRequest(`Invalid value for ${what}: ${value}. It is out of range (at most ${Number.MAX_SAFE_INTEGER} in magnitude).`);
  return n;
}

/** `in:` values: commas separate, double quotes protect commas; quotes must be comma-delimited and closed. */
export function splitQuoted(raw: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= raw.length) {
    if (raw[i] === '"') {
      const close = raw.indexOf('"', i + 1);
      if (close === -1) throw badRequest(`Invalid in: filter value ${raw}: unclosed quote`);
      out.push(raw.slice(i + 1, close));
      i = close + 1;
      if (i < raw.length && raw[i] !== ',') throw badRequest(`Invalid in: filter value ${raw}: quotes must be followed by a comma`);
      i += 1;
    } else {
      const comma = raw.indexOf(',', i);
      const end = comma === -1 ? raw.length : comma;
      const item = raw.slice(i, end);
      if (item.includes('"')) throw badRequest(`Invalid in: filter value ${raw}: quotes must be comma-delimited`);
      out.push(item);
      i = end + 1;
    }
  }
  return out;
}
