/**
 * Image insight: what operating system is inside each image and whether it
 * is ready for a cloud, found by reading its disk in the background once it
 * becomes active (insight/), kept as `glimpse_insight_*` properties, and
 * served as a readiness report with suggested Glance properties.
 *
 * Each inspection is a task of the image (`GET /v2/images/{id}/tasks`). Its
 * id is derived from the image's, so when several nodes reach the same
 * image (at activation, or sweeping for images not inspected yet) only the
 * one that records the task inspects it. Inspections run one at a time by
 * default, in child processes with their own limits: the API never waits.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { InsightConfig } from '../config/options.js';
import type { ImagesRepository } from '../db/images-repo.js';
import type { InsightRepository } from '../db/insight-repo.js';
import type { TasksRepository } from '../db/tasks-repo.js';
import type { Image } from '../domain/image.js';
import { INSIGHT_PREFIX, type InsightReport, type StoredInsight, readiness, storedInsight, suggestions } from '../domain/insight.js';
import { badRequest } from '../domain/errors.js';
import { TASK_TIME_TO_LIVE_MS, type Task } from '../domain/task.js';
import { inspectDisk, sevenZipPath } from '../insight/inspect.js';
import type { Notifier } from '../notify/notifier.js';
import { imagePayload } from '../notify/payloads.js';
import type { StoreSet } from '../store/stores.js';
import type { ImageAccess } from './image-access.js';
import type { ImagesService } from './images.js';

export const INSIGHT_TASK = 'glimpse_insight';
/** Disk formats whose guest can be read; ISOs are installers, AMI/ARI/AKI and ploop are left out. */
export const INSPECTABLE_FORMATS = ['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi'] as const;
const STATUS = `${INSIGHT_PREFIX}status`;
const SWEEP_BATCH = 20;
/** An unfinished inspection not heard from for this long (or ten reader timeouts) was left by a stopped node. */
const STALE_MIN_MS = 10 * 60 * 1000;


export interface InsightServiceDeps {
  access: ImageAccess;
  images: ImagesService;
  repo: ImagesRepository;
  tasks: TasksRepository;
  uninspected: InsightRepository;
  stores: StoreSet;
  config: InsightConfig;
  notify: Notifier;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Counted as each inspection ends. */
  results: { inc(labels: { result: string }): void };
  seconds: { observe(value: number): void };
}

export class InsightService {
  private readonly queue: { image: Image; taskId: string }[] = [];
  private running = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  get backlog(): number {
    return this.queue.length + this.running;
  }

  /** Whether this node inspects: enabled, and the reader is installed. */
  readonly active: boolean;

  constructor(private readonly d: InsightServiceDeps) {
    this.active = d.config.enabled && sevenZipPath() !== null;
    if (d.config.enabled && !this.active) d.log.warn('[glimpse_insight] enabled, but 7zz (Debian package 7zip) is not installed: no image is inspected');
  }

  /** An image became active (upload or import): inspect it if this node inspects and the image can be read. */
  activated(image: Image): void {
    if (this.active && inspectable(image, this.d.config)) void this.claim(image, claimId(image.id)).catch((err: unknown) => this.d.log.warn({ err, image: image.id }, 'could not queue the image for inspection'));
  }

  /**
   * Queues active images nobody has inspected (uploaded before insight was
   * on, or while its node was down), and takes over inspections a stopped
   * node left unfinished.
   */
  async sweep(): Promise<number> {
    if (!this.active || this.queue.length) return 0;
    let queued = 0;
    for (const id of await this.d.uninspected.uninspected(INSPECTABLE_FORMATS, STATUS, INSIGHT_TASK, SWEEP_BATCH)) {
      const image = await this.d.repo.get(id);
      if (image && inspectable(image, this.d.config) && (await this.claim(image, claimId(id))) !== null) queued++;
    }
    const staleBefore = new Date(Date.now() - Math.max(STALE_MIN_MS, this.d.config.timeoutSeconds * 10_000));
    for (const task of await this.d.tasks.stale(INSIGHT_TASK, staleBefore)) {
      const image = task.image_id ? await this.d.repo.get(task.image_id) : null;
      if (!image || !inspectable(image, this.d.config) || !(await this.d.tasks.claimStale(task.id, task.updated_at))) continue;
      this.queue.push({ image, taskId: task.id });
      queued++;
    }
    this.pump();
    return queued;
  }

  /** POST /v2/glimpse/images/{id}/insight: inspect again (after the owner fixed the image, or a failure). */
  async reinspect(ctx: RequestContext, id: string): Promise<Task> {
    assertWritable(ctx);
    const { image, target } = await this.d.access.load(ctx, id);
    this.d.access.authorize(ctx, 'modify_image', target);
    if (!this.active) throw badRequest('Image insight is not enabled on this node ([glimpse_insight] enabled, and 7zz installed).');
    const why = notInspectable(image, this.d.config);
    if (why) throw badRequest(`Image ${id} cannot be inspected: ${why}.`);
    return (await this.claim(image, randomUUID(), ctx))!;
  }

  /** GET /v2/glimpse/images/{id}/insight: for whoever may see the image. */
  async report(ctx: RequestContext, id: string): Promise<InsightReport> {
    const { image } = await this.d.access.load(ctx, id);
    const visible = this.d.access.view(ctx, image);
    const findings = storedInsight(visible.properties);
    const checks = readiness(findings);
    const task = (await this.d.tasks.forImage(image.id)).find((t) => t.type === INSIGHT_TASK && (ctx.isAdmin || t.owner === ctx.projectId)) ?? null;
    const summary = { pass: 0, warn: 0, fail: 0 };
    for (const c of checks) summary[c.result]++;
    const reason = findings.status ? null : notInspectable(image, this.d.config);
    return {
      image_id: image.id,
      status: findings.status ?? (task && (task.status === 'pending' || task.status === 'processing') ? task.status : reason ? 'not_inspectable' : 'not_inspected'),
      reason,
      inspected_at: findings.inspected_at ?? null,
      findings,
      checks,
      summary,
      suggested_properties: findings.status === 'inspected' ? suggestions(findings, visible.properties) : [],
      task: task && { id: task.id, status: task.status, message: task.message },
    };
  }

  /**
   * POST /v2/glimpse/images/{id}/insight/apply: sets the suggested
   * properties — those named, or every one the image does not carry yet —
   * through the ordinary image update (policy, protections, quotas).
   */
  async apply(ctx: RequestContext, id: string, body: unknown): Promise<InsightReport> {
    const names = applyNames(body);
    const offered = (await this.report(ctx, id)).suggested_properties;
    const unknown = (names ?? []).filter((n) => !offered.some((s) => s.name === n));
    if (unknown.length) throw badRequest(`Not suggested for this image: ${unknown.join(', ')}.`);
    const chosen = offered.filter((s) => (names ? names.includes(s.name) : s.current === null));
    if (chosen.length) await this.d.images.update(ctx, id, 'v2.1', chosen.map((s) => ({ op: s.current === null ? 'add' : 'replace', path: `/${s.name}`, value: s.value })));
    return this.report(ctx, id);
  }

  /** Records the task as accepted (pending) and queues it; null when another node (or an earlier pass) already has it. */
  private async claim(image: Image, taskId: string, ctx?: RequestContext): Promise<Task | null> {
    const now = new Date();
    const task: Task = {
      id: taskId, type: INSIGHT_TASK, status: 'pending', owner: image.owner ?? '', image_id: image.id,
      request_id: ctx?.requestId ?? null, user_id: ctx?.userId ?? null, input: { image_id: image.id },
      result: null, message: '', expires_at: null, created_at: now, updated_at: now,
    };
    try {
      await this.d.tasks.create(task);
    } catch (err) {
      if (await this.d.tasks.get(taskId)) return null;
      throw err;
    }
    this.queue.push({ image, taskId });
    this.pump();
    return task;
  }

  private pump(): void {
    while (!this.closing.signal.aborted && this.running < this.d.config.concurrency && this.queue.length) {
      const next = this.queue.shift()!;
      this.running++;
      const run = this.run(next.image, next.taskId)
        .catch((err: unknown) => this.d.log.warn({ err, image: next.image.id }, 'could not record the end of an inspection'))
        .finally(() => {
          this.running--;
          this.inFlight.delete(run);
          this.pump();
        });
      this.inFlight.add(run);
    }
  }

  /**
   * Stops the reader runs and waits for their tasks to be recorded (as
   * failed: the image can be inspected again); queued ones stay pending
   * for the sweep.
   */
  async close(): Promise<void> {
    this.closing.abort();
    this.queue.length = 0;
    await Promise.all(this.inFlight);
  }

  private async run(image: Image, taskId: string): Promise<void> {
    await this.d.tasks.update(taskId, { status: 'processing' }, ['pending']);
    const started = Date.now();
    try {
      const found = await this.withLocalFile(image, (file) => inspectDisk(file, { ...this.d.config, signal: this.closing.signal }, this.d.config.scratchDir));
      await this.record(image, found);
      const seconds = (Date.now() - started) / 1000;
      await this.finish(taskId, 'success', `${found.status === 'inspected' ? 'Inspected' : 'No readable file system'} in ${seconds.toFixed(1)} s.`, { ...found, seconds });
      this.d.results.inc({ result: found.status ?? 'inspected' });
      this.d.seconds.observe(seconds);
      this.d.log.info({ image: image.id, seconds, os: found.os_distro ?? null }, 'image inspected');
    } catch (err) {
      if (this.closing.signal.aborted) return; // the task stays unfinished: a sweep takes it over once it is stale
      const reason = err instanceof Error ? err.message : String(err);
      await this.record(image, { status: 'failed' }).catch(() => undefined); // the image may be gone: the task says why
      await this.finish(taskId, 'failure', `Inspection failed: ${reason}`, null);
      this.d.results.inc({ result: 'failed' });
      this.d.log.warn({ image: image.id, reason }, 'image inspection failed');
    }
  }

  private async finish(taskId: string, status: 'success' | 'failure', message: string, result: Record<string, unknown> | null): Promise<void> {
    await this.d.tasks.update(taskId, { status, message, result, expires_at: new Date(Date.now() + TASK_TIME_TO_LIVE_MS) });
  }

  /** Findings replace earlier ones; suggested properties are set only where the owner has none, and only when configured. */
  private async record(image: Image, found: StoredInsight): Promise<void> {
    const current = await this.d.repo.get(image.id);
    if (!current) throw new Error('the image was deleted meanwhile');
    const setProperties: Record<string, string> = Object.fromEntries(Object.entries(found).map(([k, v]) => [INSIGHT_PREFIX + k, v]));
    if (this.d.config.applyProperties && found.status === 'inspected') {
      for (const s of suggestions(found, current.properties)) if (s.current === null) setProperties[s.name] = s.value;
    }
    const stale = Object.keys(current.properties).filter((k) => k.startsWith(INSIGHT_PREFIX) && !(k in setProperties));
    const updated = await this.d.repo.update(image.id, { setProperties, removeProperties: stale });
    this.d.notify.emit('image.update', imagePayload(updated));
  }

  /** The image's data as a local file: the file store's own, else a bounded copy in the scratch directory. */
  private async withLocalFile<T>(image: Image, work: (file: string) => Promise<T>): Promise<T> {
    const location = image.locations[0];
    const store = location && this.d.stores.forLocation(location);
    if (!location || !store) throw new Error('the image has no data in a store this node knows');
    const local = store.localPath?.(location.url);
    if (local) return work(local);
    await mkdir(this.d.config.scratchDir, { recursive: true });
    const dir = await mkdtemp(path.join(this.d.config.scratchDir, 'download-'));
    try {
      const file = path.join(dir, 'disk');
      await pipeline(await store.get(location.url), createWriteStream(file, { flags: 'wx' }));
      return await work(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Why an image is not read, or null when it is. */
function notInspectable(image: Image, config: InsightConfig): string | null {
  if (image.status !== 'active') return `it is ${image.status}, not active`;
  if (!INSPECTABLE_FORMATS.includes(image.disk_format as (typeof INSPECTABLE_FORMATS)[number])) return `disk_format ${image.disk_format} holds no guest disk to read`;
  if (image.container_format !== 'bare') return `container_format ${image.container_format} wraps the disk`;
  if ((image.size ?? 0) > config.maxImageBytes) return `it is larger than [glimpse_insight] max_image_size`;
  return null;
}

const inspectable = (image: Image, config: InsightConfig) => notInspectable(image, config) === null;

/** The task id of an image's first inspection: the same on every node (a name-based UUID, RFC 4122 version 5 layout). */
function claimId(imageId: string): string {
  const h = createHash('sha1').update(`glimpse-insight:${imageId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function applyNames(body: unknown): string[] | null {
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && !('properties' in body))) return null;
  const names = (body as { properties?: unknown }).properties;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string') || names.length > 50) throw badRequest('The body is {"properties": [names]} (at most 50), or empty for every suggestion not set yet.');
  return names;
}
