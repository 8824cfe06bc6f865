/**
 * `db sync` and `db version`: an empty database gets Glance's head schema in
 * one transaction (then Glimpse's extra indexes, extra-indexes.ts); a
 * database already at a known Glance head is left as it is;
 * anything else is refused with a clear message.
 */
import { sql } from 'kysely';
import type { Db } from './connection.js';
import { addExtraIndexes } from './extra-indexes.js';
import { GLANCE_HEAD, KNOWN_HEADS, glanceSchemaDdl } from './glance-schema.js';

export type SchemaState = { kind: 'empty' } | { kind: 'known'; revision: string } | { kind: 'unknown'; revisions: string[] };

export async function schemaState(db: Db): Promise<SchemaState> {
  const tables = await db.kysely.introspection.getTables();
  const names = new Set(tables.map((t) => t.name));
  if (!names.has('alembic_version')) {
    if (names.has('images')) return { kind: 'unknown', revisions: [] };
    return { kind: 'empty' };
  }
  const rows = await db.kysely.selectFrom('alembic_version').select('version_num').execute();
  const revisions = rows.map((r) => r.version_num);
  if (revisions.length === 1 && KNOWN_HEADS.includes(revisions[0])) return { kind: 'known', revision: revisions[0] };
  return { kind: 'unknown', revisions };
}

export class SchemaError extends Error {}

/**
 * Creates the schema when the database is empty, with Glimpse's extra
 * indexes; returns the revision in force. A database already at a Glance head
 * is not touched (its extra indexes are the operator's call: `db add-indexes`).
 */
export async function syncDatabase(db: Db): Promise<{ revision: string; created: boolean }> {
  const state = await schemaState(db);
  if (state.kind === 'known') return { revision: state.revision, created: false };
  if (state.kind === 'unknown') throw unknownRevision(state.revisions);
  await db.kysely.transaction().execute(async (trx) => {
    for (const statement of glanceSchemaDdl(db.dialect)) await sql.raw(statement).execute(trx);
  });
  await addExtraIndexes(db);
  return { revision: GLANCE_HEAD, created: true };
}

/** Start-up check: the server runs only on a database at a Glance head it knows. */
export async function assertUsableSchema(db: Db): Promise<string> {
  const state = await schemaState(db);
  if (state.kind === 'known') return state.revision;
  if (state.kind === 'empty') throw new SchemaError('the database is empty: run "glimpse manage db sync" first');
  throw unknownRevision(state.revisions);
}

function unknownRevision(revisions: string[]): SchemaError {
  const found = revisions.length ? revisions.join(', ') : 'no alembic_version row';
  return new SchemaError(
    `the database is at an unknown schema revision (${found}); Glimpse runs on Glance heads ${KNOWN_HEADS.join(', ')}. ` +
      'Finish the Glance upgrade (glance-manage db sync) or point Glimpse at another database.',
  );
}
