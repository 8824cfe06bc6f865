/** The scheduled deprecation times of live images (services/lifecycle.ts), read for the scheduler. */
import { type Db } from './connection.js';

export interface ScheduledTime {
  imageId: string;
  /** The property: glimpse_obsolete_at or glimpse_delete_at. */
  name: string;
  value: string;
}

export class LifecycleRepository {
  constructor(private readonly db: Db) {}

  /** Every live image's value of these properties (few rows: only deprecated images carry them). */
  async scheduled(names: readonly string[]): Promise<ScheduledTime[]> {
    const no = this.db.toBool(false);
    const rows = await this.db.kysely
      .selectFrom('image_properties')
      .innerJoin('images', 'images.id', 'image_properties.image_id')
      .select(['image_properties.image_id as imageId', 'image_properties.name as name', 'image_properties.value as value'])
      .where('image_properties.name', 'in', [...names])
      .where('image_properties.deleted', '=', no)
      .where('images.deleted', '=', no)
      .execute();
    return rows.map((r) => ({ imageId: r.imageId, name: r.name, value: r.value ?? '' }));
  }
}
