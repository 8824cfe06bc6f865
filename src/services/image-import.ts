/**
 * Interoperable image import (`POST /v2/images/{id}/import`): glance-direct
 * (from the staging area), web-download (a vetted URL, staged first, as
 * Glance does) and copy-image (to more stores), run in the background as a
 * task, one store after another. The image's status is the lock for the
 * first two (compare-and-set to `importing`: one import wins); copy-image
 * holds `os_glance_import_task`. The worker beats the task's `updated_at`; a
 * task whose worker died (kill -9, a lost node) is taken over by a live
 * process and run again from its source, skipping stores already written.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../auth/context.js';
import type { ImagesRepository, Trx } from '../db/images-repo.js';
import type { TaskChange, TasksRepository } from '../db/tasks-repo.js';
import { GlimpseError, badRequest, conflict, forbidden } from '../domain/errors.js';
import { type Image, NO_DATA } from '../domain/image.js';
import { TASK_TIME_TO_LIVE_MS, type Task } from '../domain/task.js';
import { safeGet } from '../net/safe-get.js';
import { type ImportFilter, UrlRefused, vetUrl } from '../net/url-filter.js';
import type { StoreCaller } from '../store/image-store.js';
import type { StoreSet } from '../store/stores.js';
import type { ProbeOptions } from '../formats/probe.js';
import type { FormatPolicy } from '../formats/policy.js';
import { convertStaged } from './image-conversion.js';
import { callerOf } from './data-sharing.js';
import type { ImageDataService } from './image-data.js';
import type { ImagesService } from './images.js';

export interface ImportConfig {
  enabledImportMethods: string[];
  importFilter: ImportFilter;
  /** How often a running import proves it is alive; three missed beats and another process takes it over. */
  taskHeartbeatMs: number;
  /** The image_conversion plugin's output format, when the plugin is on. */
  conversionOutputFormat: string | null;
  imageFormat: FormatPolicy & ProbeOptions;
}

export const IMPORT_TASK = 'api_image_import';
/** The legacy Tasks API's import (`POST /v2/tasks` with `type: import`). */
export const LEGACY_IMPORT_TASK = 'import';
const METHODS = ['glance-direct', 'web-download', 'copy-image', 'glance-download'];

interface ImportRequest {
  method: string;
  uri?: string;
  stores?: string[];
  allStores: boolean;
  allMustSucceed: boolean;
}

/** What the task records of its request: enough to run it again after a restart. */
interface TaskInput {
  image_id: string;
  import_req: Record<string, unknown>;
  backend: string[];
  all_stores_must_succeed: boolean;
}

export class ImportService {
  private readonly running = new Map<string, AbortController>();
  /** Everything this service started and has not seen settle (runs, beats, sweeps): close() waits for it. */
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly images: ImagesService,
    private readonly repo: ImagesRepository,
    private readonly tasks: TasksRepository,
    private readonly data: ImageDataService,
    private readonly stores: StoreSet,
    private readonly config: ImportConfig,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {
    this.sweeper = setInterval(() => this.track(this.recover()), this.config.taskHeartbeatMs * 3);
    this.sweeper.unref();
  }

  /** Validates, takes the lock, records the task and starts it; the caller answers 202. */
  async start(ctx: RequestContext, id: string, body: unknown, headerStore: string | null = null): Promise<void> {
    const request = this.parse(body, headerStore);
    if (ctx.readOnly) throw forbidden('Read-only access');
    const { image, target } = await this.images.load(ctx, id);
    // Glance's order: the image's status first (409), then policy (403).
    this.checkStatus(image, request.method);
    this.images.authorize(ctx, request.method === 'copy-image' ? 'copy_image' : 'modify_image', target);
    if (request.method === 'copy-image' && !this.stores.multi) {
      // Glance fails with a 500 here; a single store has nowhere to copy to.
      throw badRequest('copy-image copies an image to more stores, and this deployment has one store (configure enabled_backends for several).');
    }
    const targets = this.targets(image, request, headerStore);
    if (targets.length === 0) return; // copy-image to all stores, and every store has it already: nothing to do
    if (request.uri !== undefined) {
      await vetUrl(request.uri, this.config.importFilter).catch((err: unknown) => {
        throw badRequest(`URI for web-download does not pass filtering: ${request.uri}${err instanceof UrlRefused ? ` (${err.message})` : ''}`);
      });
    }
    if (request.method === 'copy-image' && (await this.lockHeld(image))) throw conflict('Image has active task');
    const input: TaskInput = { image_id: image.id, import_req: body as Record<string, unknown>, backend: targets, all_stores_must_succeed: request.allMustSucceed };
    const task = await this.newTask(ctx, IMPORT_TASK, image.owner ?? ctx.projectId ?? '', image.id, input as unknown as Record<string, unknown>);
    const failedBefore = listOf(image.properties.os_glance_failed_import).filter((s) => !targets.includes(s));
    const from = request.method === 'glance-direct' ? 'uploading' : request.method === 'copy-image' ? 'active' : 'queued';
    try {
      await this.repo.update(
        image.id,
        {
          fields: request.method === 'copy-image' ? {} : { status: 'importing' },
          setProperties: { os_glance_import_task: task.id, os_glance_importing_to_stores: targets.join(','), os_glance_failed_import: failedBefore.join(',') },
          removeProperties: ['os_glance_stage_host'],
        },
        from,
      );
    } catch (err) {
      await this.tasks.update(task.id, { status: 'failure', message: 'Another import took the image first.', expires_at: expiry() });
      if (err instanceof GlimpseError && err.kind === 'conflict') throw conflict('Image has active task');
      throw err;
    }
    this.track(this.run(task, callerOf(ctx)));
  }

  /**
   * The legacy Tasks API's import (`POST /v2/tasks`, admins by default): a
   * new image from `image_properties`, filled from `import_from` like a
   * web-download. Answers the task (201).
   */
  async createLegacyTask(ctx: RequestContext, body: unknown): Promise<Task> {
    const b = (body ?? {}) as { type?: unknown; input?: unknown };
    if (b.type === undefined) throw badRequest("Task 'type' is required");
    if (b.input === undefined) throw badRequest("Task 'input' is required");
    if (!['import', 'api_image_import', 'location_import'].includes(String(b.type))) throw badRequest(`Invalid type value: ${String(b.type)}`);
    if (b.type !== LEGACY_IMPORT_TASK) throw badRequest(`Tasks of type ${String(b.type)} are created by the API itself, not through /v2/tasks.`);
    const input = b.input as { import_from?: unknown; import_from_format?: unknown; image_properties?: unknown };
    if (typeof input !== 'object' || input === null || typeof input.import_from !== 'string') throw badRequest("Input does not contain 'import_from' field");
    const uri = input.import_from;
    await vetUrl(uri, this.config.importFilter).catch((err: unknown) => {
      throw badRequest(`URI for import does not pass filtering: ${uri}${err instanceof UrlRefused ? ` (${err.message})` : ''}`);
    });
    const image = await this.images.create(ctx, input.image_properties ?? {});
    if (!image.disk_format || !image.container_format) throw badRequest('image_properties must set disk_format and container_format');
    const task = await this.newTask(ctx, LEGACY_IMPORT_TASK, ctx.projectId ?? '', image.id, input as Record<string, unknown>);
    await this.repo.update(image.id, { fields: { status: 'importing' }, setProperties: { os_glance_import_task: task.id, os_glance_importing_to_stores: this.stores.default.id } }, 'queued');
    this.track(this.run(task, callerOf(ctx)));
    return task;
  }

  /** Records a new pending task, linked to the request that started it. */
  private async newTask(ctx: RequestContext, type: string, owner: string, imageId: string, input: Record<string, unknown>): Promise<Task> {
    const now = new Date();
    const task: Task = {
      id: randomUUID(),
      type,
      status: 'pending',
      owner,
      image_id: imageId,
      request_id: ctx.requestId,
      user_id: ctx.userId,
      input,
      result: null,
      message: '',
      expires_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.tasks.create(task);
    return task;
  }

  /** Takes over imports whose worker stopped beating (at start-up, then every three beats). */
  async recover(now = new Date()): Promise<string[]> {
    const before = new Date(now.getTime() - this.config.taskHeartbeatMs * 3);
    const taken: string[] = [];
    const stale = [...(await this.tasks.stale(IMPORT_TASK, before)), ...(await this.tasks.stale(LEGACY_IMPORT_TASK, before))];
    for (const task of stale) {
      if (this.closing || this.running.has(task.id)) continue;
      if (!(await this.tasks.claimStale(task.id, task.updated_at))) continue;
      taken.push(task.id);
      this.log.warn({ task: task.id, image: task.image_id }, 'resuming an import whose worker stopped');
      // The caller's token is never stored: a multi-tenant store refuses the resumed writes, and the task says why.
      this.track(this.run(task, { token: null, projectId: task.owner }));
    }
    return taken;
  }

  /** Stops the worker loops; unfinished imports stay with their tasks, for the next process to resume. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const abort of this.running.values()) abort.abort();
    await Promise.allSettled([...this.inflight]);
  }

  private track(work: Promise<unknown>): void {
    const settled = work.catch(() => undefined).finally(() => this.inflight.delete(settled));
    this.inflight.add(settled);
  }

  private async run(task: Task, caller: StoreCaller): Promise<void> {
    const abort = new AbortController();
    this.running.set(task.id, abort);
    const beat = setInterval(() => this.track(this.tasks.update(task.id, {}, ['pending', 'processing'])), this.config.taskHeartbeatMs);
    beat.unref();
    try {
      await this.tasks.update(task.id, { status: 'processing' }, ['pending', 'processing']);
      await this.importInto(task, caller, abort.signal);
    } catch (err) {
      if (!this.closing) await this.fail(task, err);
    } finally {
      clearInterval(beat);
      this.running.delete(task.id);
    }
  }

  /** Writes the data to each target store in turn, then records the image's and the task's outcome together. */
  private async importInto(task: Task, caller: StoreCaller, signal: AbortSignal): Promise<void> {
    const plan = planOf(task, this.stores.default.id);
    const method = plan.method;
    const copy = method === 'copy-image';
    let image = await this.repo.get(plan.imageId);
    if (!image || image.status !== (copy ? 'active' : 'importing')) throw new Error('The image was deleted or changed during its import.');
    if (method === 'web-download') await this.data.stageStream(image, await this.download(plan.uri, signal), signal);
    if (!copy && this.config.conversionOutputFormat && image.disk_format) {
      const converted = await convertStaged(this.data.stagedFile(image.id), image.disk_format, {
        outputFormat: this.config.conversionOutputFormat,
        rules: this.config.imageFormat,
      });
      if (converted) image = await this.repo.update(image.id, { fields: { disk_format: converted } }, 'importing');
    }

    const failed: string[] = [];
    const written: string[] = [];
    let reason = '';
    for (const storeId of plan.backend) {
      const store = this.stores.byId(storeId);
      if (!store || image.locations.some((l) => this.stores.forLocation(l) === store)) continue; // gone, or written before a restart
      let url: string | null = null;
      try {
        const body = copy ? await this.data.read(image, caller) : await this.data.staged(image.id);
        const stored = await this.data.writeToStore(image, store, body, caller, signal);
        url = stored.location;
        const known = image.checksum;
        if (known && stored.checksum !== known) throw new Error(`the data written to ${storeId} does not match the image's checksum`);
        const remaining = listOf(image.properties.os_glance_importing_to_stores).filter((s) => s !== storeId);
        const { location, virtual_size, ...hashes } = stored;
        image = await this.repo.update(
          image.id,
          {
            fields: known ? {} : { ...hashes, virtual_size },
            addLocations: [{ url: location, metadata: this.stores.metadataFor(store) }],
            setProperties: { os_glance_importing_to_stores: remaining.join(',') },
          },
          copy ? 'active' : 'importing',
        );
        written.push(location);
      } catch (err) {
        if (url) await store.delete(url, caller).catch(() => undefined);
        if (signal.aborted && this.closing) throw err;
        failed.push(storeId);
        reason = err instanceof Error ? err.message : String(err);
        if (plan.allMustSucceed) break;
      }
    }
    const outcome: TaskChange = failed.length === 0
      ? { status: 'success', result: { image_id: task.image_id }, expires_at: expiry() }
      : { status: 'failure', message: `Import to store(s) ${failed.join(', ')} failed: ${reason}`, expires_at: expiry() };
    await this.finish(image, plan, failed, written, caller, { id: task.id, outcome });
  }

  /**
   * Activates (or, when the stores that had to succeed did not, reverts) and
   * releases the lock; the task's outcome commits in the same transaction, so
   * a client that sees the image settle also sees its task finished.
   */
  private async finish(image: Image, plan: Plan, failed: string[], written: string[], caller: StoreCaller, task: { id: string; outcome: TaskChange }): Promise<void> {
    const copy = plan.method === 'copy-image';
    const failedList = [...new Set([...listOf(image.properties.os_glance_failed_import), ...failed])].join(',');
    const properties = { os_glance_importing_to_stores: '', os_glance_failed_import: failedList };
    const revert = failed.length > 0 && (plan.allMustSucceed || written.length === 0);
    if (revert) {
      for (const location of image.locations.filter((l) => written.includes(l.url))) {
        await this.stores.forLocation(location)?.delete(location.url, caller).catch(() => undefined);
      }
    }
    const recordTask = (trx: Trx) => this.tasks.update(task.id, task.outcome, ['processing'], trx);
    if (copy) {
      await this.repo.transaction(async (trx) => {
        await this.repo.update(image.id, { setProperties: properties, removeProperties: ['os_glance_import_task'], ...(revert ? { removeLocations: written } : {}) }, undefined, undefined, trx);
        await recordTask(trx);
      });
      return;
    }
    // Unstaged first, so no client ever sees the import finished with its staged copy still there;
    // a crash in between resumes into finish() again, since the stores already hold the data.
    await this.data.unstage(image.id);
    await this.repo.transaction(async (trx) => {
      await this.repo.update(
        image.id,
        revert
          ? { fields: { status: 'queued', ...NO_DATA }, dropLocations: true, setProperties: properties, removeProperties: ['os_glance_import_task'] }
          : { fields: { status: 'active' }, setProperties: properties, removeProperties: ['os_glance_import_task'] },
        'importing',
        undefined,
        trx,
      );
      await recordTask(trx);
    });
  }

  private async download(uri: string, signal: AbortSignal) {
    try {
      return (await safeGet(uri, this.config.importFilter, signal)).body;
    } catch (err) {
      if (err instanceof UrlRefused) throw new Error(`URI for web-download does not pass filtering: ${uri} (${err.message})`);
      throw new Error(`web-download of ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A failure before any store was tried: the image goes back as it was, its stores listed as failed. */
  private async fail(task: Task, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const plan = planOf(task, this.stores.default.id);
    const image = await this.repo.get(plan.imageId);
    if (image) {
      const failed = [...new Set([...listOf(image.properties.os_glance_failed_import), ...plan.backend])].join(',');
      const properties = { os_glance_failed_import: failed, os_glance_importing_to_stores: '' };
      const copy = plan.method === 'copy-image';
      await this.repo
        .update(
          image.id,
          copy
            ? { setProperties: properties, removeProperties: ['os_glance_import_task'] }
            : { fields: { status: 'queued', ...NO_DATA }, dropLocations: true, setProperties: properties, removeProperties: ['os_glance_import_task'] },
          copy ? 'active' : 'importing',
        )
        .catch(() => undefined);
      if (!copy) await this.data.unstage(image.id).catch(() => undefined);
    }
    await this.tasks.update(task.id, { status: 'failure', message, expires_at: expiry() }, ['pending', 'processing']);
  }

  private parse(body: unknown, headerStore: string | null): ImportRequest {
    const b = (body ?? {}) as Record<string, unknown>;
    const method = b.method as { name?: unknown; uri?: unknown } | undefined;
    if (!method || typeof method !== 'object' || typeof method.name !== 'string') throw badRequest("Import request requires a 'method' field.");
    if (!METHODS.includes(method.name) || !this.config.enabledImportMethods.includes(method.name)) {
      throw badRequest(`Unknown import method name '${method.name}'.`);
    }
    for (const flag of ['all_stores', 'all_stores_must_succeed']) {
      if (b[flag] !== undefined && typeof b[flag] !== 'boolean') throw badRequest(`Invalid value for ${flag}: it must be a boolean.`);
    }
    if (b.stores !== undefined && (!Array.isArray(b.stores) || !b.stores.every((s) => typeof s === 'string'))) throw badRequest('stores must be a list of store ids.');
    const stores = b.stores as string[] | undefined;
    const allStores = b.all_stores === true;
    if (allStores && (stores || (headerStore && this.stores.multi))) throw badRequest('all_stores cannot be combined with stores or X-Image-Meta-Store.');
    if (stores && headerStore && this.stores.multi) throw badRequest('stores and X-Image-Meta-Store cannot be combined.');
    const allMustSucceed = b.all_stores_must_succeed !== false;
    if (!this.stores.multi && !allMustSucceed) throw badRequest('all_stores_must_succeed can only be false with multiple stores (enabled_backends).');
    if (method.name === 'glance-download') throw badRequest("The 'glance-download' import method is not supported by this service.");
    const request: ImportRequest = { method: method.name, stores, allStores, allMustSucceed };
    if (method.name !== 'web-download') return request;
    if (typeof method.uri !== 'string' || method.uri === '') throw badRequest("web-download requires a 'uri' in its method.");
    return { ...request, uri: method.uri };
  }

  /** The stores to write, in order (Glance's rules for stores, all_stores and the header). */
  private targets(image: Image, request: ImportRequest, headerStore: string | null): string[] {
    const holding = new Set(image.locations.map((l) => this.stores.forLocation(l)?.id).filter(Boolean));
    if (request.allStores) return this.stores.all.map((s) => s.id).filter((s) => !(request.method === 'copy-image' && holding.has(s)));
    const named = request.stores ?? (headerStore && this.stores.multi ? [headerStore] : [this.stores.default.id]);
    for (const id of named) {
      if (!this.stores.byId(id) || (!this.stores.multi && id !== this.stores.default.id)) throw conflict(`Store for identifier ${id} not found`);
      if (request.method === 'copy-image' && holding.has(id)) throw badRequest(`Image is already present at store '${id}'`);
    }
    return [...new Set(named)];
  }

  private async lockHeld(image: Image): Promise<boolean> {
    const holder = image.properties.os_glance_import_task;
    if (!holder) return false;
    const task = await this.tasks.get(holder);
    return task !== null && (task.status === 'pending' || task.status === 'processing');
  }

  private checkStatus(image: Image, method: string): void {
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
}

/** What a task asks for, from an /import task or a legacy `POST /v2/tasks` import (`import_from` → web-download). */
interface Plan {
  imageId: string;
  method: string;
  uri: string;
  backend: string[];
  allMustSucceed: boolean;
}

function planOf(task: Task, defaultStore: string): Plan {
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

const listOf = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const expiry = () => new Date(Date.now() + TASK_TIME_TO_LIVE_MS);
