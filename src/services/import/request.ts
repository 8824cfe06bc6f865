/**
 * What an import asks for, read and judged before anything is written:
 * the request body (`POST /v2/images/{id}/import`), whether the image can be
 * imported that way now, the target stores, and the plan a task records so
 * that any process can run it again after a restart.
 */
import { badRequest, conflict } from '../../domain/errors.js';
import type { Image } from '../../domain/image.js';
import { TASK_TIME_TO_LIVE_MS, type Task } from '../../domain/task.js';
import type { StoreSet } from '../../store/stores.js';

export const IMPORT_TASK = 'api_image_import';
/** The legacy Tasks API's import (`POST /v2/tasks` with `type: import`). */
export const LEGACY_IMPORT_TASK = 'import';
const METHODS = ['glance-direct', 'web-download', 'copy-image', 'glance-download'];

export interface ImportRequest {
  method: string;
  uri?: string;
  stores?: string[];
  allStores: boolean;
  allMustSucceed: boolean;
}

/** What the task records of its request: enough to run it again after a restart. */
export interface TaskInput {
  image_id: string;
  import_req: Record<string, unknown>;
  backend: string[];
  all_stores_must_succeed: boolean;
}

/** What a task asks for, from an /import task or a legacy `POST /v2/tasks` import (`import_from` → web-download). */
export interface Plan {
  imageId: string;
  method: string;
  uri: string;
  backend: string[];
  allMustSucceed: boolean;
}

export function parseImportRequest(body: unknown, headerStore: string | null, enabledMethods: readonly string[], stores: StoreSet): ImportRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const method = b.method as { name?: unknown; uri?: unknown } | undefined;
  if (!method || typeof method !== 'object' || typeof method.name !== 'string') throw badRequest("Import request requires a 'method' field.");
  if (!METHODS.includes(method.name) || !enabledMethods.includes(method.name)) {
    throw badRequest(`Unknown import method name '${method.name}'.`);
  }
  for (const flag of ['all_stores', 'all_stores_must_succeed']) {
    if (b[flag] !== undefined && typeof b[flag] !== 'boolean') throw badRequest(`Invalid value for ${flag}: it must be a boolean.`);
  }
  if (b.stores !== undefined && (!Array.isArray(b.stores) || !b.stores.every((s) => typeof s === 'string'))) throw badRequest('stores must be a list of store ids.');
  const named = b.stores as string[] | undefined;
  const allStores = b.all_stores === true;
  if (allStores && (named || (headerStore && stores.multi))) throw badRequest('all_stores cannot be combined with stores or X-Image-Meta-Store.');
  if (named && headerStore && stores.multi) throw badRequest('stores and X-Image-Meta-Store cannot be combined.');
  const allMustSucceed = b.all_stores_must_succeed !== false;
  if (!stores.multi && !allMustSucceed) throw badRequest('all_stores_must_succeed can only be false with multiple stores (enabled_backends).');
  if (method.name === 'glance-download') throw badRequest("The 'glance-download' import method is not supported by this service.");
  const request: ImportRequest = { method: method.name, stores: named, allStores, allMustSucceed };
  if (method.name !== 'web-download') return request;
  if (typeof method.uri !== 'string' || method.uri === '') throw badRequest("web-download requires a 'uri' in its method.");
  return { ...request, uri: method.uri };
}

/** Whether the image's status allows this method now (409 with Glance's reasons when not). */
export function assertImportable(image: Image, method: string): void {
  if (!image.container_format || !image.disk_format) {
    throw conflict('Properties disk_format, container_format must be set prior to importing data.');
  }
  if (image.status === 'importing') throw conflict('Image has active task');
  if (method === 'copy-image') {
    if (image.status !== 'active') throw conflict('Only images with status active can be targeted for copying');
    return;
  }
  if (image.status === 'active') throw conflict('Image is already active: only copy-image can import it again.');
  if (method === 'glance-direct' && image.status !== 'uploading') {
    throw conflict(`Image needs to be staged before 'glance-direct' method can be used (its status is ${image.status}).`);
  }
  if (method === 'web-download' && image.status !== 'queued') {
    throw conflict(`Image needs to be in 'queued' status before 'web-download' can be used (its status is ${image.status}).`);
  }
}

/** The stores to write, in order (Glance's rules for stores, all_stores and the header). */
export function importTargets(image: Image, request: ImportRequest, headerStore: string | null, stores: StoreSet): string[] {
  const holding = new Set(image.locations.map((l) => stores.forLocation(l)?.id).filter(Boolean));
  if (request.allStores) {
    // http stores are read-only: never a target of all_stores (as Glance's _get_available_stores).
    return stores.all.filter((s) => s.type !== 'http').map((s) => s.id).filter((s) => !(request.method === 'copy-image' && holding.has(s)));
  }
  const named = request.stores ?? (headerStore && stores.multi ? [headerStore] : [stores.default.id]);
  for (const id of named) {
    if (!stores.byId(id) || (!stores.multi && id !== stores.default.id)) throw conflict(`Store for identifier ${id} not found`);
    if (request.method === 'copy-image' && holding.has(id)) throw badRequest(`Image is already present at store '${id}'`);
  }
  return [...new Set(named)];
}

export function planOf(task: Task, defaultStore: string): Plan {
  const input = (task.input ?? {}) as Record<string, unknown>;
  if (task.type === LEGACY_IMPORT_TASK) {
    return { imageId: task.image_id ?? '', method: 'web-download', uri: String(input.import_from ?? ''), backend: [defaultStore], allMustSucceed: true };
  }
  const request = (input.import_req ?? {}) as { method?: { name?: string; uri?: string } };
  return {
    imageId: String(input.image_id ?? task.image_id ?? ''),
    method: String(request.method?.name ?? ''),
    uri: String(request.method?.uri ?? ''),
    backend: (input.backend as string[] | undefined) ?? [defaultStore],
    allMustSucceed: input.all_stores_must_succeed !== false,
  };
}

/** A comma-separated store list as Glance keeps them in os_glance_* properties. */
export const listOf = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
/** When a finished task may be forgotten. */
export const expiry = () => new Date(Date.now() + TASK_TIME_TO_LIVE_MS);
