/**
 * What a project uses, counted in the database as Glance counts it: stored
 * bytes for user_storage_quota and the four unified-limit resources.
 */
import { sql } from 'kysely';
import { type Db, fromBool } from './connection.js';
import type { Trx } from './images-repo.js';

export interface Usage {
  image_size_total: number;
  image_stage_total: number;
  image_count_total: number;
  image_count_uploading: number;
}

export class UsageRepository {
  constructor(private readonly db: Db) {}

  /**
   * Bytes a project stores, as Glance counts them for user_storage_quota:
   * each image's size once per live location, images being deleted excluded.
   */
  async storageUsedBy(owner: string, k: Trx = this.db.kysely): Promise<number> {
    const row = await k
      .selectFrom('images as i')
      .innerJoin('image_locations as l', 'l.image_id', 'i.id')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('i.size'), sql.lit(0)).as('used'))
      .where('i.owner', '=', owner)
      .where('i.deleted', '=', this.db.toBool(false))
      .where('i.size', '>', 0)
      .where('i.status', 'not in', ['killed', 'deleted', 'pending_delete'])
      .where(this.db.unindexed('l.deleted'), '=', this.db.toBool(false))
      .where('l.status', '<>', 'deleted')
      .executeTakeFirst();
    return Number(row?.used ?? 0);
  }

  /** The four unified-limit usages of a project, counted as Glance counts them (database.md §8). */
  async usageOf(owner: string, k: Trx = this.db.kysely): Promise<Usage> {
    const no = this.db.toBool(false);
    const rows = await k
      .selectFrom('images as i')
      .select(['i.id', 'i.status', 'i.size'])
      .select((eb) =>
        eb
          .exists(
            eb
              .selectFrom('image_properties as p')
              .select(sql.lit(1).as('one'))
              .whereRef('p.image_id', '=', 'i.id')
              .where('p.name', '=', 'os_glance_importing_to_stores')
              .where('p.value', '<>', '')
              .where(this.db.unindexed('p.deleted'), '=', no),
          )
          .as('copying'),
      )
      .where('i.owner', '=', owner)
      .where('i.deleted', '=', no)
      .where('i.status', 'not in', ['killed', 'deleted', 'pending_delete'])
      .execute();
    let staged = 0;
    let uploading = 0;
    for (const r of rows) {
      const copying = fromBool(r.copying as never);
      const inFlight = ['saving', 'uploading', 'importing'].includes(r.status);
      if (inFlight || copying) uploading += 1;
      if (['uploading', 'importing'].includes(r.status) || copying) staged += Number(r.size ?? 0);
    }
    return {
      image_size_total: await this.storageUsedBy(owner, k),
      image_stage_total: staged,
      image_count_total: rows.length,
      image_count_uploading: uploading,
    };
  }
}
