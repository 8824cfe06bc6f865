/**
 * Interoperable image import (`POST /v2/images/{id}/import`): glance-direct
 * (from the staging area) and web-download (from a vetted URL), run in the
 * background as a task. The image's status is the lock: the request moves it
 * to `importing` by compare-and-set, so one import wins. The worker beats
 * the task's `updated_at`; a task whose worker died (kill -9, a lost node)
 * is taken over by a live process and run again from its source.
 */
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../auth/context.js';
import type { ImagesRepository } from '../db/images-repo.js';
import type { TasksRepository } from '../db/tasks-repo.js';
import { GlimpseError, badRequest, conflict, forbidden } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import { TASK_TIME_TO_LIVE_MS, type Task } from '../domain/task.js';
import { safeGet } from '../net/safe-get.js';
import { type ImportFilter, UrlRefused, vetUrl } from '../net/url-filter.js';
import type { FileStore } from '../store/file-store.js';
import type { ImageDataService } from './image-data.js';
import type { ImagesService } from './images.js';

export interface ImportConfig {
  enabledImportMethods: string[];
  importFilter: ImportFilter;
  /** How often a running import proves it is alive; three missed beats and another process takes it over. */
  taskHeartbeatMs: number;
}

export const IMPORT_TASK = 'api_image_import';
const METHODS = ['glance-direct', 'web-download', 'copy-image', 'glance-download'];

interface ImportRequest {
  method: string;
  uri?: string;
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
    private readonly staging: FileStore,
    private readonly config: ImportConfig,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {
    this.sweeper = setInterval(() => this.track(this.recover()), this.config.taskHeartbeatMs * 3);
    this.sweeper.unref();
  }

  async start(ctx: RequestContext, id: string, body: unknown): Promise<void> {
    const request = this.parse(body);
    if (ctx.readOnly) throw forbidden('Read-only access');
    const { image, target } = await this.images.load(ctx, id);
    this.images.authorize(ctx, request.method === 'copy-image' ? 'copy_image' : 'modify_image', target);
    if (request.method === 'copy-image') {
      // Glance fails with a 500 here; a single store has nowhere to copy to.
      throw badRequest('copy-image copies an image to more stores, and this deployment has one store (configure enabled_backends for several).');
    }
    if (request.method === 'glance-download') throw badRequest("The 'glance-download' import method is not supported by this service.");
    this.checkStatus(image, request.method);
    if (request.uri !== undefined) {
      await vetUrl(request.uri, this.config.importFilter).catch((err: unknown) => {
        throw badRequest(`URI for web-download does not pass filtering: ${request.uri}${err instanceof UrlRefused ? ` (${err.message})` : ''}`);
      });
    }
    const now = new Date();
    const task: Task = {
      id: randomUUID(),
      type: IMPORT_TASK,
      status: 'pending',
      owner: image.owner ?? ctx.projectId ?? '',
      image_id: id,
      request_id: ctx.requestId,
      user_id: ctx.userId,
      input: { image_id: id, import_req: body as Record<string, unknown>, backend: [this.data.storeId] },
      result: null,
      message: '',
      expires_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.tasks.create(task);
    const from = request.method === 'glance-direct' ? 'uploading' : 'queued';
    try {
      await this.repo.update(
        id,
        {
          fields: { status: 'importing' },
          setProperties: { os_glance_import_task: task.id, os_glance_importing_to_stores: this.data.storeId, os_glance_failed_import: '' },
          removeProperties: ['os_glance_stage_host'],
        },
        from,
      );
    } catch (err) {
      await this.tasks.update(task.id, { status: 'failure', message: 'Another import took the image first.', expires_at: expiry() });
      if (err instanceof GlimpseError && err.kind === 'conflict') throw conflict('Image has active task');
      throw err;
    }
    this.track(this.run(task));
  }

  /** Takes over imports whose worker stopped beating (at start-up, then every three beats). */
  async recover(now = new Date()): Promise<string[]> {
    const before = new Date(now.getTime() - this.config.taskHeartbeatMs * 3);
    const taken: string[] = [];
    for (const task of await this.tasks.stale(IMPORT_TASK, before)) {
      if (this.closing || this.running.has(task.id)) continue;
      if (!(await this.tasks.claimStale(task.id, task.updated_at))) continue;
      taken.push(task.id);
      this.log.warn({ task: task.id, image: task.image_id }, 'resuming an import whose worker stopped');
      this.track(this.run(task));
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

  private async run(task: Task): Promise<void> {
    const abort = new AbortController();
    this.running.set(task.id, abort);
    const beat = setInterval(() => this.track(this.tasks.update(task.id, {}, ['pending', 'processing'])), this.config.taskHeartbeatMs);
    beat.unref();
    try {
      await this.tasks.update(task.id, { status: 'processing' }, ['pending', 'processing']);
      const image = task.image_id ? await this.repo.get(task.image_id) : null;
      if (!image || image.status !== 'importing') throw new Error('The image was deleted or changed during its import.');
      await this.data.importData(image, await this.source(task, image, abort.signal), abort.signal);
      if (methodOf(task) === 'glance-direct') await this.data.unstage(image.id);
      await this.tasks.update(task.id, { status: 'success', result: { image_id: image.id }, expires_at: expiry() }, ['processing']);
    } catch (err) {
      if (!this.closing) await this.fail(task, err);
    } finally {
      clearInterval(beat);
      this.running.delete(task.id);
    }
  }

  private async source(task: Task, image: Image, signal: AbortSignal): Promise<Readable> {
    const request = (task.input?.import_req ?? {}) as { method?: ImportRequest };
    if (methodOf(task) === 'glance-direct') {
      if (!(await this.staging.has(image.id))) throw new Error(`No staged data for image ${image.id} on this node.`);
      return this.staging.get(this.staging.locationOf(image.id));
    }
    const uri = String(request.method?.uri ?? '');
    try {
      return (await safeGet(uri, this.config.importFilter, signal)).body;
    } catch (err) {
      if (err instanceof UrlRefused) throw new Error(`URI for web-download does not pass filtering: ${uri} (${err.message})`);
      throw new Error(`web-download of ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The image goes back to `queued` with its store listed as failed; the task records why. */
  private async fail(task: Task, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    if (task.image_id) {
      await this.repo
        .update(
          task.image_id,
          {
            fields: { status: 'queued', size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null },
            setProperties: { os_glance_failed_import: this.data.storeId, os_glance_importing_to_stores: '' },
            removeProperties: ['os_glance_import_task'],
          },
          'importing',
        )
        .catch(() => undefined);
      if (methodOf(task) === 'glance-direct') await this.data.unstage(task.image_id).catch(() => undefined);
    }
    await this.tasks.update(task.id, { status: 'failure', message, expires_at: expiry() }, ['pending', 'processing']);
  }

  private parse(body: unknown): ImportRequest {
    const method = (body as { method?: { name?: unknown; uri?: unknown } } | null)?.method;
    if (!method || typeof method !== 'object' || typeof method.name !== 'string') throw badRequest('Import request requires a \'method\' field.');
    if (!METHODS.includes(method.name) || !this.config.enabledImportMethods.includes(method.name)) {
      throw badRequest(`Unknown import method name '${method.name}'.`);
    }
    for (const flag of ['all_stores', 'all_stores_must_succeed']) {
      const value = (body as Record<string, unknown>)[flag];
      if (value !== undefined && typeof value !== 'boolean') throw badRequest(`Invalid value for ${flag}: it must be a boolean.`);
    }
    if ((body as Record<string, unknown>).all_stores_must_succeed === false) {
      throw badRequest('all_stores_must_succeed can only be false with multiple stores (enabled_backends).');
    }
    if (method.name !== 'web-download') return { method: method.name };
    if (typeof method.uri !== 'string' || method.uri === '') throw badRequest('web-download requires a \'uri\' in its method.');
    return { method: method.name, uri: method.uri };
  }

  private checkStatus(image: Image, method: string): void {
    if (!image.container_format || !image.disk_format) {
      throw conflict('Properties disk_format, container_format must be set prior to importing data.');
    }
    if (image.status === 'importing') throw conflict('Image has active task');
    if (method === 'glance-direct' && image.status !== 'uploading') {
      throw conflict(`Image needs to be staged before 'glance-direct' method can be used (its status is ${image.status}).`);
    }
    if (method === 'web-download' && image.status !== 'queued') {
      throw conflict(`Image needs to be in 'queued' status before 'web-download' can be used (its status is ${image.status}).`);
    }
  }
}

const methodOf = (task: Task) => String(((task.input?.import_req as { method?: { name?: string } }) ?? {}).method?.name ?? '');
const expiry = () => new Date(Date.now() + TASK_TIME_TO_LIVE_MS);
