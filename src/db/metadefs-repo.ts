/**
 * The metadefs catalog in Glance's metadef_* tables. Everything here is
 * hard-deleted, as Glance does; names are unique per namespace (and
 * namespaces and resource types globally), enforced by the database.
 */
import type { Selectable } from 'kysely';
import { conflict } from '../domain/errors.js';
import { type Db, fromBool, fromTime } from './connection.js';
import type { Database } from './tables.js';

export interface NamespaceRow {
  id: number;
  namespace: string;
  display_name: string | null;
  description: string | null;
  visibility: string | null;
  protected: boolean;
  owner: string;
  created_at: Date;
  updated_at: Date | null;
}

export interface NamedRow {
  id: number;
  name: string;
  created_at: Date;
  updated_at: Date | null;
}
export interface PropertyRow extends NamedRow {
  json_schema: string;
}
export interface ObjectRow extends NamedRow {
  description: string | null;
  required: string | null;
  json_schema: string;
}
export interface AssociationRow {
  name: string;
  prefix: string | null;
  properties_target: string | null;
  created_at: Date;
  updated_at: Date | null;
}

export type NamespaceFields = Omit<NamespaceRow, 'id' | 'created_at' | 'updated_at'>;
export type ChildTable = 'metadef_properties' | 'metadef_objects' | 'metadef_tags';

export interface NamespaceQuery {
  viewer: { projectId: string | null; isAdmin: boolean };
  visibility: 'public' | 'private' | null;
  resourceTypes: string[];
  sortKey: 'created_at' | 'namespace' | 'updated_at';
  sortDir: 'asc' | 'desc';
  marker: NamespaceRow | null;
  limit: number;
}

const time = (v: Date | string | null) => (v === null ? null : fromTime(v));

export class MetadefsRepository {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: (repo: MetadefsRepository) => Promise<T>): Promise<T> {
    return this.db.kysely.transaction().execute((trx) => fn(new MetadefsRepository({ ...this.db, kysely: trx })));
  }

  async namespace(name: string): Promise<NamespaceRow | null> {
    const row = await this.db.kysely.selectFrom('metadef_namespaces').selectAll().where('namespace', '=', name).executeTakeFirst();
    return row ? toNamespace(row) : null;
  }

  async namespaces(q: NamespaceQuery): Promise<NamespaceRow[]> {
    let query = this.db.kysely.selectFrom('metadef_namespaces as n').selectAll('n');
    if (!q.viewer.isAdmin) {
      query = query.where((eb) => eb.or([eb('n.visibility', '=', 'public'), ...(q.viewer.projectId ? [eb('n.owner', '=', q.viewer.projectId)] : [])]));
    }
    if (q.visibility) query = query.where('n.visibility', '=', q.visibility);
    if (q.resourceTypes.length) {
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('metadef_namespace_resource_types as a')
            .innerJoin('metadef_resource_types as r', 'r.id', 'a.resource_type_id')
            .select('a.namespace_id')
            .whereRef('a.namespace_id', '=', 'n.id')
            .where('r.name', 'in', q.resourceTypes),
        ),
      );
    }
    const keys = [q.sortKey, ...(['created_at', 'id'] as const).filter((k) => k !== q.sortKey)] as ('created_at' | 'namespace' | 'updated_at' | 'id')[];
    if (q.marker) {
      const m = q.marker as unknown as Record<string, unknown>;
      const value = (k: string) => (m[k] instanceof Date ? this.db.toTime(m[k] as Date) : m[k]);
      query = query.where((eb) =>
        eb.or(
          keys.map((k, i) =>
            eb.and([...keys.slice(0, i).map((p) => eb(`n.${p}`, '=', value(p) as never)), eb(`n.${k}`, q.sortDir === 'asc' ? '>' : '<', value(k) as never)]),
          ),
        ),
      );
    }
    for (const k of keys) query = query.orderBy(`n.${k}`, q.sortDir);
    return (await query.limit(q.limit).execute()).map(toNamespace);
  }

  async createNamespace(fields: NamespaceFields): Promise<NamespaceRow> {
    if (await this.namespace(fields.namespace)) throw conflict(`Namespace ${fields.namespace} already exists.`);
    await this.db.kysely
      .insertInto('metadef_namespaces')
      .values({ ...fields, protected: this.db.toBool(fields.protected), ...this.created() })
      .execute();
    return (await this.namespace(fields.namespace))!;
  }

  async updateNamespace(id: number, fields: NamespaceFields, oldName: string): Promise<NamespaceRow> {
    if (fields.namespace !== oldName && (await this.namespace(fields.namespace))) {
      throw conflict(`Namespace ${fields.namespace} already exists.`);
    }
    await this.db.kysely
      .updateTable('metadef_namespaces')
      .set({ ...fields, protected: this.db.toBool(fields.protected), updated_at: this.now() })
      .where('id', '=', id)
      .execute();
    return (await this.namespace(fields.namespace))!;
  }

  async allNamespaces(): Promise<NamespaceRow[]> {
    return (await this.db.kysely.selectFrom('metadef_namespaces').selectAll().orderBy('namespace').execute()).map(toNamespace);
  }

  async deleteNamespace(id: number): Promise<void> {
    await this.transaction((repo) => repo.deleteNamespaceRows(id));
  }

  /** A namespace and everything in it, children first (no cascading foreign keys), in the caller's transaction. */
  async deleteNamespaceRows(id: number): Promise<void> {
    for (const table of ['metadef_properties', 'metadef_objects', 'metadef_tags'] as const) await this.deleteChildren(table, id);
    await this.db.kysely.deleteFrom('metadef_namespace_resource_types').where('namespace_id', '=', id).execute();
    await this.db.kysely.deleteFrom('metadef_namespaces').where('id', '=', id).execute();
  }

  // Properties, objects and tags: named children of a namespace.

  async children<T extends NamedRow>(table: ChildTable, namespaceId: number): Promise<T[]> {
    const rows = await this.db.kysely.selectFrom(table).selectAll().where('namespace_id', '=', namespaceId).orderBy('id').execute();
    return rows.map((r) => toNamed(r) as unknown as T);
  }

  async child<T extends NamedRow>(table: ChildTable, namespaceId: number, name: string): Promise<T | null> {
    const row = await this.db.kysely.selectFrom(table).selectAll().where('namespace_id', '=', namespaceId).where('name', '=', name).executeTakeFirst();
    return row ? (toNamed(row) as unknown as T) : null;
  }

  async createChild(table: ChildTable, namespaceId: number, values: Record<string, unknown> & { name: string }): Promise<void> {
    if (await this.child(table, namespaceId, values.name)) throw conflict(`${label(table)} ${values.name} already exists in this namespace.`);
    await this.db.kysely
      .insertInto(table)
      .values({ ...values, namespace_id: namespaceId, ...this.created() } as never)
      .execute();
  }

  async updateChild(table: ChildTable, namespaceId: number, id: number, values: Record<string, unknown> & { name: string }): Promise<void> {
    const clash = await this.child(table, namespaceId, values.name);
    if (clash && clash.id !== id) throw conflict(`${label(table)} ${values.name} already exists in this namespace.`);
    await this.db.kysely
      .updateTable(table)
      .set({ ...values, updated_at: this.now() } as never)
      .where('id', '=', id)
      .execute();
  }

  async deleteChild(table: ChildTable, id: number): Promise<void> {
    await this.db.kysely.deleteFrom(table).where('id', '=', id).execute();
  }

  async deleteChildren(table: ChildTable, namespaceId: number): Promise<void> {
    await this.db.kysely.deleteFrom(table).where('namespace_id', '=', namespaceId).execute();
  }

  // Resource types and associations.

  async resourceTypes(): Promise<(NamedRow & { protected: boolean })[]> {
    const rows = await this.db.kysely.selectFrom('metadef_resource_types').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ ...toNamed(r), protected: fromBool(r.protected) }));
  }

  /** The resource type's id, created when missing (API: unprotected; files: protected). */
  async resourceTypeId(name: string, protectedType: boolean): Promise<number> {
    const find = () => this.db.kysely.selectFrom('metadef_resource_types').select('id').where('name', '=', name).executeTakeFirst();
    const found = await find();
    if (found) return Number(found.id);
    await this.db.kysely
      .insertInto('metadef_resource_types')
      .values({ name, protected: this.db.toBool(protectedType), ...this.created() })
      .execute();
    return Number((await find())!.id);
  }

  async associations(namespaceId: number): Promise<AssociationRow[]> {
    const rows = await this.db.kysely
      .selectFrom('metadef_namespace_resource_types as a')
      .innerJoin('metadef_resource_types as r', 'r.id', 'a.resource_type_id')
      .select(['r.name', 'a.prefix', 'a.properties_target', 'a.created_at', 'a.updated_at'])
      .where('a.namespace_id', '=', namespaceId)
      .orderBy('r.name')
      .execute();
    return rows.map((r) => ({ ...r, created_at: fromTime(r.created_at), updated_at: time(r.updated_at) }));
  }

  async associate(namespaceId: number, association: { name: string; prefix?: string | null; properties_target?: string | null }, protectedType: boolean): Promise<void> {
    const typeId = await this.resourceTypeId(association.name, protectedType);
    const exists = await this.db.kysely
      .selectFrom('metadef_namespace_resource_types')
      .select('namespace_id')
      .where('namespace_id', '=', namespaceId)
      .where('resource_type_id', '=', typeId)
      .executeTakeFirst();
    if (exists) throw conflict(`Resource type ${association.name} is already associated with this namespace.`);
    await this.db.kysely
      .insertInto('metadef_namespace_resource_types')
      .values({
        namespace_id: namespaceId,
        resource_type_id: typeId,
        prefix: association.prefix ?? null,
        properties_target: association.properties_target ?? null,
        ...this.created(),
      })
      .execute();
  }

  async dissociate(namespaceId: number, name: string): Promise<boolean> {
    const type = await this.db.kysely.selectFrom('metadef_resource_types').select('id').where('name', '=', name).executeTakeFirst();
    if (!type) return false;
    const result = await this.db.kysely
      .deleteFrom('metadef_namespace_resource_types')
      .where('namespace_id', '=', namespaceId)
      .where('resource_type_id', '=', Number(type.id))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** glance-manage's db_unload_metadefs: every row of every metadef table. */
  async unloadAll(): Promise<void> {
    await this.transaction(async (repo) => {
      const k = repo.db.kysely;
      for (const table of ['metadef_properties', 'metadef_objects', 'metadef_tags', 'metadef_namespace_resource_types', 'metadef_namespaces', 'metadef_resource_types'] as const) {
        await k.deleteFrom(table).execute();
      }
    });
  }

  private now() {
    return this.db.toTime(new Date());
  }

  /**
   * Glance's metadefs columns default both timestamps at insert, to the whole
   * second it prints, so a row is never shown with an `updated_at` of null.
   */
  private created() {
    const t = this.db.toTime(new Date(Math.floor(Date.now() / 1000) * 1000));
    return { created_at: t, updated_at: t };
  }
}

function label(table: ChildTable): string {
  return { metadef_properties: 'Property', metadef_objects: 'Object', metadef_tags: 'Tag' }[table];
}

function toNamespace(r: Selectable<Database['metadef_namespaces']>): NamespaceRow {
  return {
    id: Number(r.id),
    namespace: r.namespace,
    display_name: r.display_name,
    description: r.description,
    visibility: r.visibility,
    protected: fromBool(r.protected),
    owner: r.owner,
    created_at: fromTime(r.created_at),
    updated_at: time(r.updated_at),
  };
}

function toNamed<R extends { id: unknown; created_at: Date | string; updated_at: Date | string | null }>(r: R) {
  return { ...r, id: Number(r.id), created_at: fromTime(r.created_at), updated_at: time(r.updated_at) };
}
