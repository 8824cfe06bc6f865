/**
 * Images, their properties, tags and locations, stored exactly as Glance
 * stores them. Liveness is always the `deleted` flag (never `deleted_at`), a
 * removed property row is revived when the key comes back, and every status
 * change is a compare-and-set on the current status.
 */
import type { Compilable, Kysely } from 'kysely';
import { conflict, tooLarge } from '../domain/errors.js';
import { type Image, type ImageLocation, type ImageStatus, RESERVED_PREFIX, type Visibility, transition } from '../domain/image.js';
import { IMAGE_COLUMNS, type ImageListQuery } from '../domain/image-query.js';
import { dict } from '../domain/dict.js';
import { CompiledOnce } from './compiled-once.js';
import { type Db, fromBool, fromTime } from './connection.js';
import { listImageRows } from './image-list-sql.js';
import type { Database } from './tables.js';

/** What an update changes; properties and tags change key by key so concurrent writers never undo each other. */
export interface ImageChange {
  fields?: Partial<Omit<Image, 'id' | 'properties' | 'tags' | 'locations' | 'created_at' | 'updated_at'>>;
  setProperties?: Record<string, string>;
  removeProperties?: string[];
  addTags?: string[];
  removeTags?: string[];
  addLocations?: ImageLocation[];
  /** Replaces the live locations with these, in this order. */
  setLocations?: ImageLocation[];
  /** Marks every live location deleted (the data itself is the store's business). */
  dropLocations?: boolean;
  /** Marks the live locations with these URLs deleted. */
  removeLocations?: string[];
}

/** image_property_quota and image_tag_quota (negative: unlimited). */
export interface ChildQuotas {
  properties: number;
  tags: number;
}
interface ChildCounts {
  properties: number;
  tags: number;
}

/** Only growth past a quota is refused, so an image already over a lowered quota can still shrink. */
function assertWithin(quotas: ChildQuotas, before: ChildCounts, after: ChildCounts): void {
  if (quotas.properties >= 0 && after.properties > quotas.properties && after.properties > before.properties) {
    throw tooLarge(`The limit has been exceeded on the number of allowed image properties. Attempted: ${after.properties}, Maximum: ${quotas.properties}`);
  }
  if (quotas.tags >= 0 && after.tags > quotas.tags && after.tags > before.tags) {
    throw tooLarge(`The limit has been exceeded on the number of allowed image tags. Attempted: ${after.tags}, Maximum: ${quotas.tags}`);
  }
}

export type Trx = Kysely<Database>;

const SOFT_DELETED_STATUSES: readonly string[] = ['deleted', 'pending_delete'];

export class ImagesRepository {
  /** The show path's fixed-shape queries (see compiled-once.ts). */
  private readonly compiled = new CompiledOnce();

  constructor(private readonly db: Db) {}

  async get(id: string, within?: Trx): Promise<Image | null> {
    const row = await this.liveRow(id, within);
    return row ? (await this.hydrate([row], within))[0] : null;
  }

  /** The image's own columns only, with no properties, tags or locations loaded: enough for a list marker. */
  async getRecord(id: string): Promise<Image | null> {
    const row = await this.liveRow(id);
    return row ? toImage(row) : null;
  }

  /**
   * The live row an id names. Ids are compared as stored: an id as given, or
   * its lower-case form (what Glimpse stores), with an exact match first; on
   * MySQL's case-insensitive collation either may find a row in another case.
   * Callers go on with the row's own id, never the one they were given.
   */
  private async liveRow(id: string, k: Trx = this.db.kysely): Promise<Database['images'] | null> {
    const ids = [...new Set([id, id.toLowerCase()])];
    const notDeleted = this.db.toBool(false);
    const rows = await this.compiled.rows(k, `live-image:${ids.length}`, [...ids, notDeleted], () =>
      k.selectFrom('images').selectAll().where('id', 'in', ids).where('deleted', '=', notDeleted),
    );
    const live = rows.filter((r) => !SOFT_DELETED_STATUSES.includes(r.status));
    return live.find((r) => r.id === id) ?? live.find((r) => r.id === id.toLowerCase()) ?? live[0] ?? null;
  }

  /** Inside `within` (a transaction the caller holds), or in a transaction of its own. */
  private inTransaction<T>(within: Trx | undefined, work: (trx: Trx) => Promise<T>): Promise<T> {
    return within ? work(within) : this.db.kysely.transaction().execute(work);
  }

  /** One transaction for changes that must commit together (an image's status and its task's). */
  transaction<T>(work: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.kysely.transaction().execute(work);
  }

  async create(image: Image, within?: Trx): Promise<void> {
    await this.inTransaction(within, async (trx) => {
      const existing = await trx.selectFrom('images').select('id').where('id', '=', image.id).executeTakeFirst();
      if (existing) throw conflict(`An image with identifier ${image.id} already exists`);
      await trx
        .insertInto('images')
        .values({ ...this.columns(image), id: image.id, deleted: this.db.toBool(false), created_at: this.db.toTime(image.created_at) } as never)
        .execute();
      await this.writeProperties(trx, image.id, image.properties, image.created_at);
      await this.addTags(trx, image.id, image.tags, image.created_at);
    });
  }

  /**
   * Applies a change atomically. With `fromStatus`, the update happens only if
   * the image is still in that status (else 409), Glance's `from_state` guard.
   * The first statement updates the image row, which locks it: changes to one
   * image run one after another, so `quotas` are checked on what is really
   * there once this change is made, whatever runs beside it.
   */
  async update(id: string, change: ImageChange, fromStatus?: ImageStatus | ImageStatus[], quotas?: ChildQuotas, within?: Trx): Promise<Image> {
    const to = change.fields?.status;
    if (to !== undefined) {
      if (!fromStatus) throw new TypeError(`a change of status (to ${to}) must name the statuses it moves from`);
      transition(fromStatus, to);
    }
    const now = new Date();
    await this.inTransaction(within, async (trx) => {
      let query = trx
        .updateTable('images')
        .set({ ...this.columns(change.fields ?? {}), updated_at: this.db.toTime(now) } as never)
        .where('id', '=', id)
        .where('deleted', '=', this.db.toBool(false));
      if (fromStatus) query = query.where('status', 'in', Array.isArray(fromStatus) ? fromStatus : [fromStatus]);
      const result = await query.executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) {
        throw conflict(fromStatus ? `Image status transition from ${[fromStatus].flat().join(' or ')} is no longer possible: the image changed meanwhile.` : `Image ${id} was changed or deleted meanwhile.`);
      }
      const before = quotas ? await this.childCounts(trx, id) : null;
      if (change.setProperties) await this.writeProperties(trx, id, change.setProperties, now);
      if (change.removeProperties?.length) await this.softDelete(trx, 'image_properties', id, now, 'name', change.removeProperties);
      if (change.addTags?.length) await this.addTags(trx, id, change.addTags, now);
      if (change.removeTags?.length) await this.softDelete(trx, 'image_tags', id, now, 'value', change.removeTags);
      if (change.dropLocations) await this.dropLocations(trx, id, now);
      if (change.removeLocations?.length) await this.dropLocations(trx, id, now, change.removeLocations);
      if (change.setLocations) await this.dropLocations(trx, id, now);
      for (const location of [...(change.setLocations ?? []), ...(change.addLocations ?? [])]) {
        await trx
          .insertInto('image_locations')
          .values({
            image_id: id,
            value: location.url,
            meta_data: JSON.stringify(location.metadata),
            status: 'active',
            created_at: this.db.toTime(now),
            updated_at: this.db.toTime(now),
            deleted: this.db.toBool(false),
          })
          .execute();
      }
      if (quotas && before) assertWithin(quotas, before, await this.childCounts(trx, id));
    });
    const image = await this.get(id, within);
    if (!image) throw conflict(`Image ${id} was deleted meanwhile.`);
    return image;
  }

  /**
   * Glance's delete: the image row and every live child row, soft-deleted
   * with one timestamp. Returns the locations it dropped, read under the
   * image row's lock: an upload that committed on another node just before
   * is seen here, so its data is removed with the image, never orphaned.
   */
  async remove(id: string, fromStatus?: ImageStatus[]): Promise<ImageLocation[]> {
    const now = new Date();
    const t = this.db.toTime(now);
    const yes = this.db.toBool(true);
    return this.db.kysely.transaction().execute(async (trx) => {
      let query = trx
        .updateTable('images')
        .set({ status: 'deleted', deleted: yes, deleted_at: t, updated_at: t })
        .where('id', '=', id)
        .where('deleted', '=', this.db.toBool(false));
      if (fromStatus) query = query.where('status', 'in', fromStatus);
      const result = await query.executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw conflict(`Image ${id} was changed or deleted meanwhile.`);
      const locations = await trx
        .selectFrom('image_locations')
        .select(['value', 'meta_data', 'deleted', 'status'])
        .where('image_id', '=', id)
        .orderBy('id')
        .execute();
      await this.dropLocations(trx, id, now);
      for (const table of ['image_properties', 'image_members', 'image_tags'] as const) {
        await trx
          .updateTable(table)
          .set({ deleted: yes, deleted_at: t, updated_at: t })
          .where('image_id', '=', id)
          .where('deleted', '=', this.db.toBool(false))
          .execute();
      }
      return locations
        .filter((l) => !fromBool(l.deleted) && l.status === 'active')
        .map((l) => ({ url: l.value, metadata: parseMeta(l.meta_data) }));
    });
  }

  /** Live custom properties (os_glance_* not counted, as Glance) and tags of an image, inside a transaction. */
  private async childCounts(trx: Trx, id: string): Promise<ChildCounts> {
    const no = this.db.toBool(false);
    const [props, tags] = await Promise.all([
      trx.selectFrom('image_properties').select(['name', 'deleted']).where('image_id', '=', id).execute(),
      trx.selectFrom('image_tags').select(['value', 'deleted']).where('image_id', '=', id).where('deleted', '=', no).execute(),
    ]);
    const liveNames = props.filter((p) => !fromBool(p.deleted)).map((p) => p.name);
    return {
      properties: new Set(liveNames.filter((n) => !n.startsWith(RESERVED_PREFIX))).size,
      tags: new Set(tags.map((t) => t.value)).size,
    };
  }

  /** The caller's live membership of a shared image, any status. */
  async memberStatus(imageId: string, projectId: string): Promise<string | null> {
    const rows = await this.db.kysely
      .selectFrom('image_members')
      .select(['status', 'deleted'])
      .where('image_id', '=', imageId)
      .where('member', '=', projectId)
      .execute();
    return rows.find((r) => !fromBool(r.deleted))?.status ?? null;
  }

  /** Live images in a status that has not changed since `before`. */
  async idsInStatusSince(status: ImageStatus, before: Date): Promise<string[]> {
    const rows = await this.db.kysely
      .selectFrom('images')
      .select('id')
      .where('status', '=', status)
      .where('deleted', '=', this.db.toBool(false))
      .where('updated_at', '<', this.db.toTime(before))
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Of these data locations (image id → URL), those whose image is deleted
   * (not pending_delete: Glance's scrubber still needs that data) and that no
   * live location of any image points at: data a crash left behind.
   */
  async orphanedData(candidates: { id: string; url: string }[]): Promise<{ id: string; url: string }[]> {
    if (candidates.length === 0) return [];
    const deleted = await this.db.kysely
      .selectFrom('images')
      .select('id')
      .where('id', 'in', candidates.map((c) => c.id))
      .where('status', '=', 'deleted')
      .execute();
    const gone = new Set(deleted.map((r) => r.id));
    const maybe = candidates.filter((c) => gone.has(c.id));
    if (maybe.length === 0) return [];
    const referenced = await this.db.kysely
      .selectFrom('image_locations')
      .select('value')
      .where('value', 'in', maybe.map((c) => c.url))
      .where('deleted', '=', this.db.toBool(false))
      .execute();
    const inUse = new Set(referenced.map((r) => r.value));
    return maybe.filter((c) => !inUse.has(c.url));
  }

  /** Of these URLs, those that a live location of another image also points to (its data must stay). */
  async sharedUrls(urls: string[], imageId: string): Promise<Set<string>> {
    if (urls.length === 0) return new Set();
    const rows = await this.db.kysely
      .selectFrom('image_locations')
      .select('value')
      .where('value', 'in', urls)
      .where('image_id', '!=', imageId)
      .where('deleted', '=', this.db.toBool(false))
      .where('status', '=', 'active')
      .execute();
    return new Set(rows.map((r) => r.value));
  }

  /** Ids of live images whose ids are among these (for sweeping stray files). */
  async liveIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.kysely
      .selectFrom('images')
      .select(['id', 'status'])
      .where('id', 'in', ids)
      .where('deleted', '=', this.db.toBool(false))
      .execute();
    return new Set(rows.filter((r) => !SOFT_DELETED_STATUSES.includes(r.status)).map((r) => r.id));
  }

  /** A page of images; `signal` aborting (the client left) cancels the query in the database. */
  async list(q: ImageListQuery, signal?: AbortSignal): Promise<Image[]> {
    return this.db.cancellable(signal, async (k) => this.hydrate(await listImageRows(this.db, k, q), k));
  }

  private columns(image: ImageChange['fields'] & object): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(image)) {
      if (!(IMAGE_COLUMNS as readonly string[]).includes(key) || key === 'id' || key === 'created_at' || key === 'updated_at') continue;
      out[key] = typeof v === 'boolean' ? this.db.toBool(v) : v;
    }
    if ('updated_at' in image && image.updated_at instanceof Date) out.updated_at = this.db.toTime(image.updated_at);
    return out;
  }

  private async writeProperties(trx: Trx, imageId: string, properties: Record<string, string>, now: Date) {
    const t = this.db.toTime(now);
    for (const [name, value] of Object.entries(properties)) {
      const revived = await trx
        .updateTable('image_properties')
        .set({ value, deleted: this.db.toBool(false), updated_at: t })
        .where('image_id', '=', imageId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (Number(revived.numUpdatedRows) > 0) continue;
      await trx
        .insertInto('image_properties')
        .values({ image_id: imageId, name, value, created_at: t, updated_at: t, deleted: this.db.toBool(false) })
        .execute();
    }
  }

  private async addTags(trx: Trx, imageId: string, tags: string[], now: Date) {
    const t = this.db.toTime(now);
    for (const value of new Set(tags)) {
      const live = await trx
        .selectFrom('image_tags')
        .select('id')
        .where('image_id', '=', imageId)
        .where('value', '=', value)
        .where('deleted', '=', this.db.toBool(false))
        .executeTakeFirst();
      if (live) continue;
      await trx
        .insertInto('image_tags')
        .values({ image_id: imageId, value, created_at: t, updated_at: t, deleted: this.db.toBool(false) })
        .execute();
    }
  }

  private async softDelete(
    trx: Trx,
    table: 'image_properties' | 'image_tags',
    imageId: string,
    now: Date,
    column: 'name' | 'value',
    values: string[],
  ) {
    const t = this.db.toTime(now);
    await trx
      .updateTable(table)
      .set({ deleted: this.db.toBool(true), deleted_at: t, updated_at: t })
      .where('image_id', '=', imageId)
      .where(column as never, 'in', values as never)
      .where('deleted', '=', this.db.toBool(false))
      .execute();
  }

  /** Every live location of the image, or only those with the given URLs. */
  private async dropLocations(trx: Trx, imageId: string, now: Date, urls?: string[]) {
    const t = this.db.toTime(now);
    let q = trx
      .updateTable('image_locations')
      .set({ status: 'deleted', deleted: this.db.toBool(true), deleted_at: t, updated_at: t })
      .where('image_id', '=', imageId)
      .where('deleted', '=', this.db.toBool(false));
    if (urls) q = q.where('value', 'in', urls);
    await q.execute();
  }

  /** Turns rows into images, loading properties, tags and locations in one query each. */
  private async hydrate(rows: Database['images'][], k: Kysely<Database> = this.db.kysely): Promise<Image[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    // Liveness is checked here rather than in SQL: with `deleted = ?` in the
    // WHERE clause SQLite picks Glance's low-selectivity ix_*_deleted index
    // over the image_id one and scans every live row.
    const live = <T extends { deleted: unknown }>(rows: T[]) => rows.filter((r) => !fromBool(r.deleted as never));
    // One image (a show, an update): its three queries' SQL is compiled once. A list's vary with its length.
    const run = <R>(shape: string, build: () => Compilable<R> & { execute(): Promise<R[]> }) =>
      ids.length === 1 ? this.compiled.rows(k, `${shape}:1`, ids, build) : build().execute();
    const [props, tags, locations] = await Promise.all([
      run('properties', () => k.selectFrom('image_properties').select(['image_id', 'name', 'value', 'deleted']).where('image_id', 'in', ids)).then(live),
      run('tags', () => k.selectFrom('image_tags').select(['image_id', 'value', 'deleted']).where('image_id', 'in', ids)).then(live),
      run('locations', () =>
        k.selectFrom('image_locations').select(['image_id', 'value', 'meta_data', 'deleted', 'status']).where('image_id', 'in', ids).orderBy('id'),
      ).then((rows) => live(rows).filter((r) => r.status === 'active')),
    ]);
    const byId = new Map<string, Image>();
    const byFoldedId = new Map<string, Image>();
    const images = rows.map((r) => {
      const image = toImage(r);
      byId.set(r.id, image);
      byFoldedId.set(r.id.toLowerCase(), image);
      return image;
    });
    // MySQL compares ids without case, so a child row may carry its image's id
    // in another case (a Glance database can hold such rows): it still
    // belongs to that image. A row that matches no image is not one of ours.
    const owner = (imageId: string) => byId.get(imageId) ?? byFoldedId.get(imageId.toLowerCase());
    for (const p of props) {
      const image = owner(p.image_id);
      if (image) image.properties[p.name] = p.value ?? '';
    }
    for (const t of tags) {
      const image = owner(t.image_id);
      if (image && !image.tags.includes(t.value)) image.tags.push(t.value);
    }
    for (const l of locations) owner(l.image_id)?.locations.push({ url: l.value, metadata: parseMeta(l.meta_data) });
    return images;
  }
}

function parseMeta(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function toImage(r: Database['images']): Image {
  return {
    id: r.id,
    name: r.name,
    status: r.status as ImageStatus,
    visibility: r.visibility as Visibility,
    protected: fromBool(r.protected),
    os_hidden: fromBool(r.os_hidden),
    checksum: r.checksum,
    os_hash_algo: r.os_hash_algo,
    os_hash_value: r.os_hash_value,
    owner: r.owner,
    size: r.size === null ? null : Number(r.size),
    virtual_size: r.virtual_size === null ? null : Number(r.virtual_size),
    container_format: r.container_format,
    disk_format: r.disk_format,
    min_ram: Number(r.min_ram),
    min_disk: Number(r.min_disk),
    created_at: fromTime(r.created_at),
    updated_at: fromTime(r.updated_at ?? r.created_at),
    properties: dict<string>(),
    tags: [],
    locations: [],
  };
}
