/** The images guest inspection (services/insight.ts) has not reached yet, for the sweep. */
import { type Db } from './connection.js';

export class InsightRepository {
  constructor(private readonly db: Db) {}

  /**
   * Active images of these disk formats, oldest first, with neither findings
   * (`statusProperty`) nor an inspection task of `taskType`.
   */
  async uninspected(diskFormats: readonly string[], statusProperty: string, taskType: string, limit: number): Promise<string[]> {
    const no = this.db.toBool(false);
    const rows = await this.db.kysely
      .selectFrom('images as i')
      .select('i.id')
      .where('i.status', '=', 'active')
      .where('i.deleted', '=', no)
      .where('i.disk_format', 'in', [...diskFormats])
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('image_properties as p').select('p.id').whereRef('p.image_id', '=', 'i.id').where('p.name', '=', statusProperty).where('p.deleted', '=', no))),
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('tasks as t').select('t.id').whereRef('t.image_id', '=', 'i.id').where('t.type', '=', taskType).where('t.deleted', '=', no))),
      )
      .orderBy('i.created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }
}
