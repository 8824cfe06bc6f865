/**
 * Interoperable image import (`POST /v2/images/{id}/import`): glance-direct
 * (from the staging area), web-download (a vetted URL, staged first, as
 * Glance does) and copy-image (to more stores), and the legacy Tasks API's
 * import. This part checks the request, takes the image's lock and records
 * the task; the worker runs it. The image's status is the lock for the first
 * two (compare-and-set to `importing`: one import wins); copy-image holds
 * `os_glance_import_task`.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../auth/context.js';
import type { ImagesRepository } from '../../db/images-repo.js';
import type { TasksRepository } from '../../db/tasks-repo.js';
import { GlimpseError, badRequest, conflict, forbidden } from '../../domain/errors.js';
import type { Image } from '../../domain/image.js';
import type { Task } from '../../domain/task.js';
import { UrlRefused, vetUrl } from '../../net/url-filter.js';
import type { StoreSet } from '../../store/stores.js';
import { callerOf } from '../data-sharing.js';
import type { ImageAccess } from '../image-access.js';
import type { ImportConfig } from './flows.js';
import { IMPORT_TASK, LEGACY_IMPORT_TASK, type TaskInput, assertImportable, expiry, importTargets, listOf, parseImportRequest } from './request.js';
import type { ImportWorker } from './worker.js';

import type { Notifier } from '../../notify/notifier.js';
import { taskPayload } from '../../notify/payloads.js';
export interface ImportServiceDeps {
  access: ImageAccess;
  /** Creates an image as `POST /v2/images` would (the legacy task's `image_properties`). */
  createImage(ctx: RequestContext, body: unknown): Promise<Image>;
  repo: ImagesRepository;
  tasks: TasksRepository;
  stores: StoreSet;
  worker: ImportWorker;
  config: ImportConfig;
  notify: Notifier;
}

export class ImportService {
  constructor(private readonly d: ImportServiceDeps) {}

  /** Validates, takes the lock, records the task and starts it; the caller answers 202. */
  async start(ctx: RequestContext, id: string, body: unknown, headerStore: string | null = null): Promise<void> {
    const { access, repo, stores, config } = this.d;
    const request = parseImportRequest(body, headerStore, config.enabledImportMethods, stores);
    if (ctx.readOnly) throw forbidden('Read-only access');
    const { image, target } = await access.load(ctx, id);
    // Glance's order: the image's status first (409), then policy (403).
    assertImportable(image, request.method);
    access.authorize(ctx, request.method === 'copy-image' ? 'copy_image' : 'modify_image', target);
    if (request.method === 'copy-image' && !stores.multi) {
      // Glance fails with a 500 here; a single store has nowhere to copy to.
      throw badRequest('copy-image copies an image to more stores, and this deployment has one store (configure enabled_backends for several).');
    }
    const targets = importTargets(image, request, headerStore, stores);
    if (targets.length === 0) return; // copy-image to all stores, and every store has it already: nothing to do
    if (request.uri !== undefined) await this.vet(request.uri, 'web-download');
    if (request.method === 'copy-image' && (await this.lockHeld(image))) throw conflict('Image has active task');
    const input: TaskInput = { image_id: image.id, import_req: body as Record<string, unknown>, backend: targets, all_stores_must_succeed: request.allMustSucceed };
    const task = await this.newTask(ctx, IMPORT_TASK, image.owner ?? ctx.projectId ?? '', image.id, input as unknown as Record<string, unknown>);
    const failedBefore = listOf(image.properties.os_glance_failed_import).filter((s) => !targets.includes(s));
    const from = request.method === 'glance-direct' ? 'uploading' : request.method === 'copy-image' ? 'active' : 'queued';
    try {
      await repo.update(
        image.id,
        {
          fields: request.method === 'copy-image' ? {} : { status: 'importing' },
          setProperties: { os_glance_import_task: task.id, os_glance_importing_to_stores: targets.join(','), os_glance_failed_import: failedBefore.join(',') },
          removeProperties: ['os_glance_stage_host'],
        },
        from,
      );
    } catch (err) {
      await this.d.tasks.update(task.id, { status: 'failure', message: 'Another import took the image first.', expires_at: expiry() });
      if (err instanceof GlimpseError && err.kind === 'conflict') throw conflict('Image has active task');
      throw err;
    }
    this.d.worker.start(task, callerOf(ctx));
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
    await this.vet(input.import_from, 'import');
    const image = await this.d.createImage(ctx, input.image_properties ?? {});
    if (!image.disk_format || !image.container_format) throw badRequest('image_properties must set disk_format and container_format');
    const task = await this.newTask(ctx, LEGACY_IMPORT_TASK, ctx.projectId ?? '', image.id, input as Record<string, unknown>);
    const locked = { fields: { status: 'importing' as const }, setProperties: { os_glance_import_task: task.id, os_glance_importing_to_stores: this.d.stores.default.id } };
    await this.d.repo.update(image.id, locked, 'queued');
    this.d.worker.start(task, callerOf(ctx));
    return task;
  }

  private async vet(uri: string, what: string): Promise<void> {
    await vetUrl(uri, this.d.config.importFilter).catch((err: unknown) => {
      throw badRequest(`URI for ${what} does not pass filtering: ${uri}${err instanceof UrlRefused ? ` (${err.message})` : ''}`);
    });
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
    await this.d.tasks.create(task);
    this.d.notify.emit('task.create', taskPayload(task));
    return task;
  }

  private async lockHeld(image: Image): Promise<boolean> {
    const holder = image.properties.os_glance_import_task;
    if (!holder) return false;
    const task = await this.d.tasks.get(holder);
    return task !== null && (task.status === 'pending' || task.status === 'processing');
  }
}
