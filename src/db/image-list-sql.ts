/**
 * The image list in SQL: Glance's visibility union, column, property and tag
 * filters, keyset paging after a marker with Glance's NULL defaults, sorts.
 */
import { type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import type { Image } from '../domain/image.js';
import type { ColumnFilter, FilterValue, ImageListQuery, SortKey } from '../domain/image-query.js';
import type { Db } from './connection.js';
import type { Database } from './tables.js';

type Eb = ExpressionBuilder<Database, 'images'>;

const STRING_SORT_KEYS: readonly string[] = ['name', 'status', 'container_format', 'disk_format', 'id'];

/** The rows of one page, in order: visibility, filters, properties, tags, marker, sort, limit. */
export async function listImageRows(db: Db, k: Kysely<Database>, q: ImageListQuery): Promise<Database['images'][]> {
  const no = db.toBool(false);
  let query = k
    .selectFrom('images')
    .selectAll()
    .where('deleted', '=', no)
    .where('status', 'not in', ['killed', 'deleted', 'pending_delete'])
    .where('os_hidden', '=', db.toBool(q.osHidden));

  query = query.where((eb) => visibleIn(db, eb, q));
  for (const f of q.filters) query = query.where((eb) => filter(db, eb, f));
  for (const [name, value] of q.properties) {
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('image_properties as p')
          .select(sql.lit(1).as('one'))
          .whereRef('p.image_id', '=', 'images.id')
          .where('p.name', '=', name)
          .where('p.value', '=', value)
          .where(db.unindexed('p.deleted'), '=', no),
      ),
    );
  }
  for (const tag of q.tags) {
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('image_tags as t')
          .select(sql.lit(1).as('one'))
          .whereRef('t.image_id', '=', 'images.id')
          .where('t.value', '=', tag)
          .where(db.unindexed('t.deleted'), '=', no),
      ),
    );
  }
  if (q.marker) {
    const marker = q.marker;
    query = query.where((eb) => afterMarker(db, eb, q.sort, marker));
  }
  // Ordered by the same NULL-defaulted expressions the marker compares, so
  // paging is consistent, and NULLs sort alike on every database.
  for (const { key, dir } of q.sort) query = query.orderBy((eb) => sortExpression(eb, key), dir);
  return query.limit(q.limit).execute();
}

/** Glance's union of public/community, owned, and shared-with-me (by member status) images. */
function visibleIn(db: Db, eb: Eb, q: ImageListQuery) {
  const conditions = [];
  const { projectId, isAdmin } = q.viewer;
  if (!isAdmin) {
    const candidates = [eb('visibility', 'in', ['public', 'community'])];
    if (projectId !== null) candidates.push(eb('owner', '=', projectId));
    let members = eb
      .selectFrom('image_members as m')
      .select(sql.lit(1).as('one'))
      .whereRef('m.image_id', '=', 'images.id')
      .where(db.unindexed('m.deleted'), '=', db.toBool(false));
    if (projectId !== null) {
      members = members.where('m.member', '=', projectId);
      if (q.memberStatus !== 'all') members = members.where('m.status', '=', q.memberStatus);
    }
    candidates.push(eb.and([eb('visibility', '=', 'shared'), eb.exists(members)]));
    conditions.push(eb.or(candidates));
  }
  if (q.visibility && q.visibility !== 'all') {
    conditions.push(eb('visibility', '=', q.visibility));
  } else if (!q.visibility) {
    conditions.push(
      projectId !== null
        ? eb.or([eb('owner', '=', projectId), eb('visibility', '<>', 'community')])
        : eb('visibility', '<>', 'community'),
    );
  }
  return eb.and(conditions);
}

function filter(db: Db, eb: Eb, f: ColumnFilter) {
  const value = (v: FilterValue) => (v instanceof Date ? db.toTime(v) : typeof v === 'boolean' ? db.toBool(v) : v);
  if (f.op === 'in') return eb(f.column, 'in', (f.value as FilterValue[]).map(value) as never[]);
  const ops = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
  return eb(f.column, ops[f.op], value(f.value as FilterValue) as never);
}

/** The row-after-marker condition: (k1 > m1) OR (k1 = m1 AND k2 > m2) OR …, with Glance's NULL defaults. */
function afterMarker(db: Db, eb: Eb, sort: ImageListQuery['sort'], marker: Image) {
  const col = (key: SortKey) => sortExpression(eb, key);
  const val = (key: SortKey) => {
    const v = marker[key];
    if (v instanceof Date) return db.toTime(v);
    if (v === null) return key === 'size' ? 0 : '';
    return v;
  };
  const branches = sort.map((s, i) =>
    eb.and([
      ...sort.slice(0, i).map((p) => eb(col(p.key), '=', val(p.key) as never)),
      eb(col(s.key), s.dir === 'asc' ? '>' : '<', val(s.key) as never),
    ]),
  );
  // The same condition as a range on the first key as well, so the database
  // can start an index scan at the marker instead of filtering every row before it.
  const [first] = sort;
  const bound = eb(col(first.key), first.dir === 'asc' ? '>=' : '<=', val(first.key) as never);
  return eb.and([bound, eb.or(branches)]) as unknown as ReturnType<Eb['or']> & SqlBool;
}

/** A sort column with Glance's marker defaults for NULL: '' for strings, 0 for sizes. */
function sortExpression(eb: Eb, key: SortKey) {
  if (STRING_SORT_KEYS.includes(key)) return eb.fn.coalesce(key, sql.lit(''));
  if (key === 'size') return eb.fn.coalesce(key, sql.lit(0));
  return eb.ref(key);
}
