/**
 * The image cache's records in Glance's own tables, as its centralized_db
 * driver keeps them: one `node_reference` row per API node (its
 * `worker_self_reference_url`) and one `cached_images` row per image a node
 * holds, with hits and last access for the pruner. Each node reads and
 * writes only its own rows.
 */
import { type Db, fromTime } from './connection.js';

export interface CachedImage {
  image_id: string;
  size: number;
  hits: number;
  checksum: string | null;
  last_accessed: Date;
  last_modified: Date;
}

export class CacheRepository {
  constructor(private readonly db: Db) {}

  /** This node's id in node_reference, created on first use (two nodes starting at once may race: the loser reads the winner's row). */
  async nodeId(url: string): Promise<number> {
    const find = () => this.db.kysely.selectFrom('node_reference').select('node_reference_id').where('node_reference_url', '=', url).executeTakeFirst();
    const found = await find();
    if (found) return Number(found.node_reference_id);
    await this.db.kysely.insertInto('node_reference').values({ node_reference_url: url }).execute().catch(() => undefined);
    const created = await find();
    if (!created) throw new Error(`could not record the cache node ${url} in node_reference`);
    return Number(created.node_reference_id);
  }

  async list(node: number): Promise<CachedImage[]> {
    const rows = await this.db.kysely
      .selectFrom('cached_images')
      .select(['image_id', 'size', 'hits', 'checksum', 'last_accessed', 'last_modified'])
      .where('node_reference_id', '=', node)
      .orderBy('last_accessed')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ ...r, size: Number(r.size), hits: Number(r.hits), last_accessed: fromTime(r.last_accessed), last_modified: fromTime(r.last_modified) }));
  }

  /** Records a file just committed to the cache (replacing any stale row of the same image). */
  async record(node: number, imageId: string, size: number, checksum: string | null): Promise<void> {
    const now = this.db.toTime(new Date());
    await this.db.kysely.transaction().execute(async (trx) => {
      await trx.deleteFrom('cached_images').where('node_reference_id', '=', node).where('image_id', '=', imageId).execute();
      await trx
        .insertInto('cached_images')
        .values({ image_id: imageId, size, hits: 0, checksum, last_accessed: now, last_modified: now, node_reference_id: node })
        .execute();
    });
  }

  async hit(node: number, imageId: string): Promise<void> {
    await this.db.kysely
      .updateTable('cached_images')
      .set((eb) => ({ hits: eb('hits', '+', 1), last_accessed: this.db.toTime(new Date()) }))
      .where('node_reference_id', '=', node)
      .where('image_id', '=', imageId)
      .execute();
  }

  async remove(node: number, imageId: string): Promise<void> {
    await this.db.kysely.deleteFrom('cached_images').where('node_reference_id', '=', node).where('image_id', '=', imageId).execute();
  }

  /** The URLs of the nodes that cache an image. */
  async nodesOf(imageId: string): Promise<string[]> {
    const rows = await this.db.kysely
      .selectFrom('cached_images')
      .innerJoin('node_reference', 'node_reference.node_reference_id', 'cached_images.node_reference_id')
      .select('node_reference.node_reference_url')
      .where('cached_images.image_id', '=', imageId)
      .execute();
    return rows.map((r) => r.node_reference_url);
  }
}
