/**
 * Webhook deliveries waiting or done, in a table of Glimpse's own
 * (`glimpse_webhook_deliveries`, created when webhooks are configured;
 * glance-api and its migrations ignore it), so events not yet delivered
 * survive a restart, and any node can deliver them: a node claims a due row
 * for a short lease before sending it.
 */
import { type Generated, type Kysely, type Selectable, sql } from 'kysely';
import { type Db, fromTime } from './connection.js';
import type { DbTime } from './tables.js';

const TABLE = 'glimpse_webhook_deliveries' as const;

export interface Delivery {
  id: number;
  subscription: string;
  event_id: string;
  event_type: string;
  body: string;
  attempts: number;
  next_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

interface OutboxTable {
  id: Generated<number>;
  subscription: string;
  event_id: string;
  event_type: string;
  body: string;
  attempts: number;
  next_attempt_at: DbTime | null;
  claimed_until: DbTime | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: DbTime | null;
  created_at: DbTime;
}

type Row = Selectable<OutboxTable>;

export class WebhookOutbox {
  constructor(private readonly db: Db) {}

  /** Creates the table if it is not there (it is Glimpse's, so Glimpse may). */
  async ensureTable(): Promise<void> {
    const d = this.db.dialect;
    const id = d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : d === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'BIGINT AUTO_INCREMENT PRIMARY KEY';
    const time = d === 'sqlite' ? 'VARCHAR(32)' : d === 'postgres' ? 'TIMESTAMP' : 'DATETIME(6)';
    const text = d === 'mysql' ? 'LONGTEXT' : 'TEXT';
    await sql
      .raw(
        `CREATE TABLE IF NOT EXISTS ${TABLE} (id ${id}, subscription VARCHAR(255) NOT NULL, event_id VARCHAR(36) NOT NULL, ` +
          `event_type VARCHAR(255) NOT NULL, body ${text} NOT NULL, attempts INTEGER NOT NULL, next_attempt_at ${time} NULL, ` +
          `claimed_until ${time} NULL, last_status INTEGER NULL, last_error ${text} NULL, delivered_at ${time} NULL, created_at ${time} NOT NULL)`,
      )
      .execute(this.db.kysely);
  }

  async enqueue(rows: { subscription: string; event_id: string; event_type: string; body: string }[]): Promise<void> {
    if (rows.length === 0) return;
    const now = this.db.toTime(new Date());
    await this.table()
      .insertInto(TABLE)
      .values(rows.map((r) => ({ ...r, attempts: 0, next_attempt_at: now, created_at: now })))
      .execute();
  }

  /** Due deliveries this node now holds for `leaseMs` (another node skips them until then). */
  async claimDue(limit: number, leaseMs: number): Promise<Delivery[]> {
    const now = new Date();
    const due = await this.table()
      .selectFrom(TABLE)
      .selectAll()
      .where('delivered_at', 'is', null)
      .where('next_attempt_at', '<=', this.db.toTime(now))
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', this.db.toTime(now))]))
      .orderBy('id')
      .limit(limit)
      .execute();
    const claimed: Delivery[] = [];
    for (const row of due) {
      const result = await this.table()
        .updateTable(TABLE)
        .set({ claimed_until: this.db.toTime(new Date(now.getTime() + leaseMs)) })
        .where('id', '=', row.id)
        .where((eb) => (row.claimed_until === null ? eb('claimed_until', 'is', null) : eb('claimed_until', '=', row.claimed_until)))
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) claimed.push(toDelivery(row));
    }
    return claimed;
  }

  async delivered(id: number, status: number): Promise<void> {
    await this.table()
      .updateTable(TABLE)
      .set((eb) => ({ delivered_at: this.db.toTime(new Date()), last_status: status, last_error: null, claimed_until: null, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  /** A failed attempt: retried at `next` (null: given up). */
  async failed(id: number, status: number | null, error: string, next: Date | null): Promise<void> {
    await this.table()
      .updateTable(TABLE)
      .set((eb) => ({ last_status: status, last_error: error.slice(0, 2000), next_attempt_at: next ? this.db.toTime(next) : null, claimed_until: null, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  /** The most recent deliveries, newest first (the admin's delivery log). */
  async recent(limit: number): Promise<Delivery[]> {
    const rows = await this.table().selectFrom(TABLE).selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toDelivery);
  }

  async backlog(): Promise<number> {
    const row = await this.table().selectFrom(TABLE).select((eb) => eb.fn.countAll().as('n')).where('delivered_at', 'is', null).where('next_attempt_at', 'is not', null).executeTakeFirst();
    return Number((row as { n?: unknown } | undefined)?.n ?? 0);
  }

  /** The table is not in Kysely's view of Glance's schema: queried untyped. */
  private table(): Kysely<{ [TABLE]: OutboxTable }> {
    return this.db.kysely as unknown as Kysely<{ [TABLE]: OutboxTable }>;
  }
}

function toDelivery(row: Row): Delivery {
  const time = (v: unknown) => (v === null || v === undefined ? null : fromTime(v as string | Date));
  return {
    id: Number(row.id),
    subscription: row.subscription,
    event_id: row.event_id,
    event_type: row.event_type,
    body: row.body,
    attempts: Number(row.attempts),
    next_attempt_at: time(row.next_attempt_at),
    last_status: row.last_status === null ? null : Number(row.last_status),
    last_error: row.last_error,
    delivered_at: time(row.delivered_at),
    created_at: time(row.created_at)!,
  };
}
