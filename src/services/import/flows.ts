/**
 * What one import task does with the data: fetch or read it, convert it if
 * the image_conversion plugin is on, write it to each target store in turn,
 * then settle the image and the task together. Runs inside the worker.
 */
import type { Logger } from 'pino';
import type { ImagesRepository, Trx } from '../../db/images-repo.js';
import type { TaskChange, TasksRepository } from '../../db/tasks-repo.js';
import { type Image, NO_DATA } from '../../domain/image.js';
import type { Task } from '../../domain/task.js';
import type { ImageFormatRules } from '../../formats/policy.js';
import { safeGet } from '../../net/safe-get.js';
import { type ImportFilter, UrlRefused } from '../../net/url-filter.js';
import type { StoreCaller } from '../../store/image-store.js';
import type { StoreSet } from '../../store/stores.js';
import { convertStaged } from '../image-conversion.js';
import type { ImageDataService } from '../image-data.js';
import { CONVERTED_FROM, COPIED_FROM, SOURCE_URL } from '../lifecycle.js';
import { type Plan, expiry, listOf, planOf } from './request.js';

export interface ImportConfig {
  enabledImportMethods: string[];
  importFilter: ImportFilter;
  /** How often a running import proves it is alive; three missed beats and another process takes it over. */
  taskHeartbeatMs: number;
  /** The image_conversion plugin's output format, when the plugin is on. */
  conversionOutputFormat: string | null;
  imageFormat: ImageFormatRules;
}

/** Why an import did not complete: the message becomes the task's. */
export class ImportFailed extends Error {}

export interface ImportFlowDeps {
  repo: ImagesRepository;
  tasks: TasksRepository;
  data: ImageDataService;
  stores: StoreSet;
  config: ImportConfig;
  log: Pick<Logger, 'warn'>;
}

export class ImportFlows {
  constructor(private readonly d: ImportFlowDeps) {}

  /** Writes the data to each target store in turn, then records the image's and the task's outcome together. */
  async run(task: Task, caller: StoreCaller, signal: AbortSignal, closing: () => boolean): Promise<void> {
    const { repo, stores } = this.d;
    const plan = planOf(task, stores.default.id);
    const copy = plan.method === 'copy-image';
    let image = await this.prepare(plan, signal);
    const failed: string[] = [];
    const written: string[] = [];
    let reason = '';
    for (const storeId of plan.backend) {
      const store = stores.byId(storeId);
      if (!store || image.locations.some((l) => stores.forLocation(l) === store)) continue; // gone, or written before a restart
      let url: string | null = null;
      try {
        // A worker that died between writing this store's data and recording it left the data unreferenced:
        // this task holds the image now, so no live writer can own it (the store still checks).
        await store.releaseAbandoned?.(image.id, 0).catch(() => false);
        const body = copy ? await this.d.data.read(image, caller) : await this.d.data.staged(image.id);
        const stored = await this.d.data.writeToStore(image, store, body, caller, signal);
        url = stored.location;
        const known = image.checksum;
        if (known && stored.checksum !== known) throw new ImportFailed(`the data written to ${storeId} does not match the image's checksum`);
        const remaining = listOf(image.properties.os_glance_importing_to_stores).filter((s) => s !== storeId);
        const { location, virtual_size, ...hashes } = stored;
        image = await repo.update(
          image.id,
          {
            fields: known ? {} : { ...hashes, virtual_size },
            addLocations: [{ url: location, metadata: stores.metadataFor(store) }],
            setProperties: { os_glance_importing_to_stores: remaining.join(',') },
          },
          copy ? 'active' : 'importing',
        );
        written.push(location);
      } catch (err) {
        if (url) await this.discard(store.id, url, caller, image.id);
        if (signal.aborted && closing()) throw err;
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
   * A failure before any store was tried: the image goes back as it was, its
   * stores listed as failed, in the same transaction as the task's failure
   * (a client that sees the image settle sees why).
   */
  async fail(task: Task, err: unknown): Promise<void> {
    const { repo, tasks, log } = this.d;
    const failure: TaskChange = { status: 'failure', message: err instanceof Error ? err.message : String(err), expires_at: expiry() };
    const plan = planOf(task, this.d.stores.default.id);
    const copy = plan.method === 'copy-image';
    const image = await repo.get(plan.imageId);
    const recordTask = (trx?: Trx) => tasks.update(task.id, failure, ['pending', 'processing'], trx);
    if (!image) return void (await recordTask());
    const failed = [...new Set([...listOf(image.properties.os_glance_failed_import), ...plan.backend])].join(',');
    const release = { setProperties: { os_glance_failed_import: failed, os_glance_importing_to_stores: '' }, removeProperties: ['os_glance_import_task'] };
    const back = copy ? release : { fields: { status: 'queued' as const, ...NO_DATA }, dropLocations: true, ...release };
    // Unstaged first, as in finish(): no client sees the image back in queued with a staged copy left.
    if (!copy) {
      await this.d.data.unstage(image.id).catch((e: unknown) => log.warn({ err: e, image: image.id }, 'a failed import left its staged data; recovery removes it'));
    }
    try {
      await repo.transaction(async (trx) => {
        await repo.update(image.id, back, copy ? 'active' : 'importing', undefined, trx);
        await recordTask(trx);
      });
    } catch (e) {
      // The image moved on (deleted, or taken by another process): the task still says why this run failed.
      log.warn({ err: e, image: image.id, task: task.id }, 'a failed import could not put its image back; recovery will');
      await recordTask();
    }
  }

  /** The image still waits for this import; web-download data is staged and, with the plugin, converted. */
  private async prepare(plan: Plan, signal: AbortSignal): Promise<Image> {
    const { repo, data, config } = this.d;
    const copy = plan.method === 'copy-image';
    let image = await repo.get(plan.imageId);
    if (!image || image.status !== (copy ? 'active' : 'importing')) throw new ImportFailed('The image was deleted or changed during its import.');
    if (plan.method === 'web-download') await data.stageStream(image, await this.download(plan.uri, signal), signal);
    if (!copy && config.conversionOutputFormat && image.disk_format) {
      const converted = await convertStaged(data.stagedFile(image.id), image.disk_format, {
        outputFormat: config.conversionOutputFormat,
        rules: config.imageFormat,
      });
      // Lineage: the format the data arrived in.
      if (converted) image = await repo.update(image.id, { fields: { disk_format: converted }, setProperties: { [CONVERTED_FROM]: image.disk_format } }, 'importing');
    }
    return image;
  }

  /**
   * Activates (or, when the stores that had to succeed did not, reverts) and
   * releases the lock; the task's outcome commits in the same transaction, so
   * a client that sees the image settle also sees its task finished.
   */
  private async finish(image: Image, plan: Plan, failed: string[], written: string[], caller: StoreCaller, task: { id: string; outcome: TaskChange }): Promise<void> {
    const { repo, tasks, stores } = this.d;
    const copy = plan.method === 'copy-image';
    const failedList = [...new Set([...listOf(image.properties.os_glance_failed_import), ...failed])].join(',');
    const revert = failed.length > 0 && (plan.allMustSucceed || written.length === 0);
    const properties: Record<string, string> = { os_glance_importing_to_stores: '', os_glance_failed_import: failedList };
    // Lineage: where web-downloaded data came from (never its credentials or query, which can hold tokens).
    if (plan.method === 'web-download' && !revert) properties[SOURCE_URL] = withoutSecrets(plan.uri);
    // Lineage: the store a copy read from (the first location it did not write).
    const source = copy && !revert ? image.locations.find((l) => !written.includes(l.url)) : undefined;
    const sourceStore = source && stores.forLocation(source)?.id;
    if (sourceStore) properties[COPIED_FROM] = sourceStore;
    if (revert) {
      for (const location of image.locations.filter((l) => written.includes(l.url))) {
        const store = stores.forLocation(location);
        if (store) await this.discard(store.id, location.url, caller, image.id);
      }
    }
    const recordTask = (trx: Trx) => tasks.update(task.id, task.outcome, ['processing'], trx);
    const release = { setProperties: properties, removeProperties: ['os_glance_import_task'] };
    if (copy) {
      await repo.transaction(async (trx) => {
        await repo.update(image.id, { ...release, ...(revert ? { removeLocations: written } : {}) }, undefined, undefined, trx);
        await recordTask(trx);
      });
      return;
    }
    // Unstaged first, so no client ever sees the import finished with its staged copy still there;
    // a crash in between resumes into finish() again, since the stores already hold the data.
    await this.d.data.unstage(image.id);
    const settled = await repo.transaction(async (trx) => {
      const settle = revert ? { fields: { status: 'queued' as const, ...NO_DATA }, dropLocations: true, ...release } : { fields: { status: 'active' as const }, ...release };
      const updated = await repo.update(image.id, settle, 'importing', undefined, trx);
      await recordTask(trx);
      return updated;
    });
    if (!revert) this.d.data.notifyActivated(settled);
  }

  /** Removes data this import wrote and will not keep; what cannot be removed is logged, never left silently. */
  private async discard(storeId: string, url: string, caller: StoreCaller, imageId: string): Promise<void> {
    const store = this.d.stores.byId(storeId);
    await store?.delete(url, caller).catch((err: unknown) =>
      this.d.log.warn({ err, image: imageId, store: storeId, location: url }, 'import: could not delete data it wrote and does not keep; it is orphaned'),
    );
  }

  private async download(uri: string, signal: AbortSignal) {
    try {
      return (await safeGet(uri, this.d.config.importFilter, { signal })).body;
    } catch (err) {
      if (err instanceof UrlRefused) throw new ImportFailed(`URI for web-download does not pass filtering: ${uri} (${err.message})`);
      throw new ImportFailed(`web-download of ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** A URL without its user, password, query and fragment. */
function withoutSecrets(uri: string): string {
  const url = new URL(uri);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.toString();
}
