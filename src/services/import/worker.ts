/**
 * Runs import tasks in the background of this process: each run beats its
 * task's `updated_at`; a task whose beats stopped (kill -9, a lost node) is
 * claimed by a live process and run again from its source, skipping stores
 * already written. close() stops the loops and leaves unfinished tasks for
 * the next process.
 */
import type { Logger } from 'pino';
import type { TasksRepository } from '../../db/tasks-repo.js';
import type { Task } from '../../domain/task.js';
import type { StoreCaller } from '../../store/image-store.js';
import type { ImportFlows } from './flows.js';
import { IMPORT_TASK, LEGACY_IMPORT_TASK } from './request.js';
import type { Notifier } from '../../notify/notifier.js';
import type { Metrics } from '../../metrics/metrics.js';
import { taskPayload } from '../../notify/payloads.js';

export interface ImportWorkerDeps {
  tasks: TasksRepository;
  flows: ImportFlows;
  heartbeatMs: number;
  log: Pick<Logger, 'warn'>;
  notify: Notifier;
  metrics: Metrics;
}

export class ImportWorker {
  private readonly running = new Map<string, AbortController>();
  /** Everything this worker started and has not seen settle (runs, beats, sweeps): close() waits for it. */
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly d: ImportWorkerDeps) {
    this.sweeper = setInterval(() => this.track(this.recover()), d.heartbeatMs * 3);
    this.sweeper.unref();
  }

  /** Runs a task already recorded (and whose image is locked) in the background. */
  start(task: Task, caller: StoreCaller): void {
    this.track(this.run(task, caller));
  }

  /** Takes over imports whose worker stopped beating (at start-up, then every three beats). */
  async recover(now = new Date()): Promise<string[]> {
    const { tasks, heartbeatMs, log } = this.d;
    const before = new Date(now.getTime() - heartbeatMs * 3);
    const taken: string[] = [];
    const stale = [...(await tasks.stale(IMPORT_TASK, before)), ...(await tasks.stale(LEGACY_IMPORT_TASK, before))];
    for (const task of stale) {
      if (this.closing || this.running.has(task.id)) continue;
      if (!(await tasks.claimStale(task.id, task.updated_at))) continue;
      taken.push(task.id);
      log.warn({ task: task.id, image: task.image_id }, 'resuming an import whose worker stopped');
      // The caller's token is never stored: a multi-tenant store refuses the resumed writes, and the task says why.
      this.start(task, { token: null, projectId: task.owner });
    }
    return taken;
  }

  /** Imports this process is running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Stops the worker loops; unfinished imports stay with their tasks, for the next process to resume. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const abort of this.running.values()) abort.abort();
    await Promise.allSettled([...this.inflight]);
  }

  private track(work: Promise<unknown>): void {
    const settled = work
      .catch((err: unknown) => this.d.log.warn({ err }, 'background import work failed; the task is retried when its beats stop'))
      .finally(() => this.inflight.delete(settled));
    this.inflight.add(settled);
  }

  private async run(task: Task, caller: StoreCaller): Promise<void> {
    const { tasks, flows, heartbeatMs } = this.d;
    const abort = new AbortController();
    this.running.set(task.id, abort);
    const beat = setInterval(() => this.track(tasks.update(task.id, {}, ['pending', 'processing'])), heartbeatMs);
    beat.unref();
    try {
      this.d.notify.emit('task.run', taskPayload(task));
      await tasks.update(task.id, { status: 'processing' }, ['pending', 'processing']);
      this.d.notify.emit('task.processing', taskPayload({ ...task, status: 'processing', updated_at: new Date() }));
      await flows.run(task, caller, abort.signal, () => this.closing);
    } catch (err) {
      if (!this.closing) await flows.fail(task, err);
    } finally {
      clearInterval(beat);
      this.running.delete(task.id);
    }
    if (!this.closing) await this.settled(task.id);
  }

  /** What became of a task: its notification, and for a failure a log line that says why. */
  private async settled(id: string): Promise<void> {
    const task = await this.d.tasks.get(id);
    if (!task || (task.status !== 'success' && task.status !== 'failure')) return;
    this.d.notify.emit(`task.${task.status}`, taskPayload(task));
    this.d.metrics.importResults.inc({ result: task.status });
    if (task.status === 'failure') {
      this.d.log.warn({ task: task.id, image: task.image_id, requestId: task.request_id, reason: task.message }, `import task failed: ${task.message}`);
    }
  }
}
