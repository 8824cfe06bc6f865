/**
 * Tasks in Glance's two tables: `tasks` (status, owner, links) and
 * `task_info` (input, result and message as JSON text). The worker running a
 * task touches `updated_at` as a heartbeat; a task whose heartbeat stopped
 * belongs to a dead process and may be taken over.
 */
import type { Task, TaskStatus } from '../domain/task.js';
import type { Kysely } from 'kysely';
import { type Db, fromTime } from './connection.js';
import type { Database } from './tables.js';

export interface TaskChange {
  status?: TaskStatus;
  result?: Record<string, unknown> | null;
  message?: string;
  expires_at?: Date | null;
}

export class TasksRepository {
  constructor(private readonly db: Db) {}

  async create(task: Task): Promise<void> {
    const t = (d: Date | null) => (d ? this.db.toTime(d) : null);
    await this.db.kysely.transaction().execute(async (trx) => {
      await trx
        .insertInto('tasks')
        .values({
          id: task.id,
          type: task.type,
          status: task.status,
          owner: task.owner,
          expires_at: t(task.expires_at),
          image_id: task.image_id,
          request_id: task.request_id,
          user_id: task.user_id,
          created_at: this.db.toTime(task.created_at),
          updated_at: t(task.updated_at),
          deleted: this.db.toBool(false),
        } as never)
        .execute();
      await trx
        .insertInto('task_info')
        .values({ task_id: task.id, input: JSON.stringify(task.input), result: JSON.stringify(task.result), message: task.message })
        .execute();
    });
  }

  /** Applies a change; with `fromStatus` only if the task is still in it (false otherwise). */
  /** `within`: a transaction the caller holds, so the task's change commits with the image's. */
  async update(id: string, change: TaskChange, fromStatus?: TaskStatus[], within?: Kysely<Database>): Promise<boolean> {
    const inTransaction = <T>(work: (trx: Kysely<Database>) => Promise<T>) => (within ? work(within) : this.db.kysely.transaction().execute(work));
    return inTransaction(async (trx) => {
      const set: Record<string, unknown> = { updated_at: this.db.toTime(new Date()) };
      if (change.status) set.status = change.status;
      if (change.expires_at !== undefined) set.expires_at = change.expires_at ? this.db.toTime(change.expires_at) : null;
      let q = trx.updateTable('tasks').set(set as never).where('id', '=', id);
      if (fromStatus) q = q.where('status', 'in', fromStatus);
      if (Number((await q.executeTakeFirst()).numUpdatedRows) === 0) return false;
      const info: Record<string, unknown> = {};
      if (change.result !== undefined) info.result = JSON.stringify(change.result);
      if (change.message !== undefined) info.message = change.message;
      if (Object.keys(info).length) await trx.updateTable('task_info').set(info as never).where('task_id', '=', id).execute();
      return true;
    });
  }

  /**
   * Takes over a task whose heartbeat is older than `staleBefore`: one
   * compare-and-set on `updated_at`, so only one process wins it.
   */
  async claimStale(id: string, seen: Date | null, now = new Date()): Promise<boolean> {
    let q = this.db.kysely.updateTable('tasks').set({ updated_at: this.db.toTime(now) } as never).where('id', '=', id);
    q = seen ? q.where('updated_at', '=', this.db.toTime(seen) as never) : q.where('updated_at', 'is', null);
    return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
  }

  async get(id: string): Promise<Task | null> {
    return (await this.select((q) => q.where('t.id', '=', id)))[0] ?? null;
  }

  async forImage(imageId: string): Promise<Task[]> {
    return this.select((q) => q.where('t.image_id', '=', imageId).orderBy('t.created_at', 'desc'));
  }

  /** Unfinished tasks of a type not heard from since `before`. */
  async stale(type: string, before: Date): Promise<Task[]> {
    const tasks = await this.select((q) => q.where('t.type', '=', type).where('t.status', 'in', ['pending', 'processing']));
    return tasks.filter((t) => (t.updated_at ?? t.created_at) < before);
  }

  async list(filter: { owner?: string; status?: string; type?: string; limit: number; marker?: Task; sortDir: 'asc' | 'desc' }): Promise<Task[]> {
    return this.select((q) => {
      if (filter.owner) q = q.where('t.owner', '=', filter.owner);
      if (filter.status) q = q.where('t.status', '=', filter.status);
      if (filter.type) q = q.where('t.type', '=', filter.type);
      const { marker } = filter;
      if (marker) {
        const at = this.db.toTime(marker.created_at) as never;
        q = q.where((eb: any) =>
          filter.sortDir === 'desc'
            ? eb.or([eb('t.created_at', '<', at), eb.and([eb('t.created_at', '=', at), eb('t.id', '<', marker.id)])])
            : eb.or([eb('t.created_at', '>', at), eb.and([eb('t.created_at', '=', at), eb('t.id', '>', marker.id)])]),
        );
      }
      return q.orderBy('t.created_at', filter.sortDir).orderBy('t.id', filter.sortDir).limit(filter.limit);
    });
  }

  /** Tasks joined with their info; `shape` adds conditions and order (Kysely's types for this join are unwieldy to spell out). */
  private async select(shape: (q: any) => any): Promise<Task[]> {
    const base = this.db.kysely
      .selectFrom('tasks as t')
      .innerJoin('task_info as i', 'i.task_id', 't.id')
      .selectAll('t')
      .select(['i.input', 'i.result', 'i.message'])
      .where('t.deleted', '=', this.db.toBool(false));
    const rows = (await shape(base).execute()) as Record<string, unknown>[];
    const now = new Date();
    return rows.map(toTask).filter((t) => !t.expires_at || t.expires_at > now);
  }
}

function toTask(r: Record<string, unknown>): Task {
  const json = (v: unknown) => (typeof v === 'string' && v !== '' ? (JSON.parse(v) as Record<string, unknown> | null) : null);
  const time = (v: unknown) => (v ? fromTime(v as string | Date) : null);
  return {
    id: r.id as string,
    type: r.type as string,
    status: r.status as TaskStatus,
    owner: r.owner as string,
    image_id: (r.image_id as string | null) ?? null,
    request_id: (r.request_id as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    input: json(r.input),
    result: json(r.result),
    message: (r.message as string | null) ?? '',
    expires_at: time(r.expires_at),
    created_at: time(r.created_at) as Date,
    updated_at: time(r.updated_at),
  };
}
