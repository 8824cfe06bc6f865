/**
 * Per-family retention policies (services/retention.ts), one per family and
 * owner project, in a table of Glimpse's own (`glimpse_family_retention`),
 * created by the first policy set; glance-api and its migrations ignore it.
 */
import { type Kysely, sql } from 'kysely';
import { type Db, fromTime } from './connection.js';
import type { DbTime } from './tables.js';

const TABLE = 'glimpse_family_retention' as const;

export interface RetentionPolicy {
  family: string;
  owner: string;
  /** Active versions kept listed; older ones are deprecated. */
  keep_newest: number | null;
  /** A version is deprecated this many days after it was created, once a newer one exists. */
  deprecate_after_days: number | null;
  /** A deprecated version is deleted this many days after its deprecation (never while protected). */
  delete_deprecated_after_days: number | null;
  updated_at: Date;
}

interface RetentionTable {
  family: string;
  owner: string;
  keep_newest: number | null;
  deprecate_after_days: number | null;
  delete_deprecated_after_days: number | null;
  updated_at: DbTime;
}

export class RetentionRepository {
  constructor(private readonly db: Db) {}

  /** The table is not in Kysely's view of Glance's schema: queried untyped. */
  private table(): Kysely<{ [TABLE]: RetentionTable }> {
    return this.db.kysely as unknown as Kysely<{ [TABLE]: RetentionTable }>;
  }

  private async ensureTable(): Promise<void> {
    const time = this.db.dialect === 'sqlite' ? 'VARCHAR(32)' : this.db.dialect === 'postgres' ? 'TIMESTAMP' : 'DATETIME(6)';
    await sql
      .raw(
        `CREATE TABLE IF NOT EXISTS ${TABLE} (family VARCHAR(255) NOT NULL, owner VARCHAR(255) NOT NULL, keep_newest INTEGER NULL, ` +
          `deprecate_after_days INTEGER NULL, delete_deprecated_after_days INTEGER NULL, updated_at ${time} NOT NULL, PRIMARY KEY (family, owner))`,
      )
      .execute(this.db.kysely);
  }

  async set(policy: Omit<RetentionPolicy, 'updated_at'>): Promise<void> {
    await this.ensureTable();
    const row = { ...policy, updated_at: this.db.toTime(new Date()) };
    await this.table().transaction().execute(async (trx) => {
      await trx.deleteFrom(TABLE).where('family', '=', policy.family).where('owner', '=', policy.owner).execute();
      await trx.insertInto(TABLE).values(row).execute();
    });
  }

  async remove(family: string, owner: string): Promise<boolean> {
    if (!(await this.get(family, owner))) return false;
    await this.table().deleteFrom(TABLE).where('family', '=', family).where('owner', '=', owner).execute();
    return true;
  }

  async get(family: string, owner: string): Promise<RetentionPolicy | null> {
    return (await this.read(family, owner))[0] ?? null;
  }

  /** Every policy. */
  all(): Promise<RetentionPolicy[]> {
    return this.read();
  }

  /**
   * Policies, of one family and owner or all; none while no policy was ever
   * set (the table does not exist yet). A failed read counts as none: the
   * scheduler's next pass reads again.
   */
  private async read(family?: string, owner?: string): Promise<RetentionPolicy[]> {
    let query = this.table().selectFrom(TABLE).selectAll();
    if (family !== undefined && owner !== undefined) query = query.where('family', '=', family).where('owner', '=', owner);
    const rows = await query.execute().catch(() => null);
    return (rows ?? []).map((r) => ({ ...r, updated_at: fromTime(r.updated_at) }));
  }
}
