/** `glimpse manage`: glance-manage's jobs, on the database a server uses. */
import { Command } from 'commander';
import type { CliOptions } from '../config/config.js';
import { openDatabase } from '../db/connection.js';
import { EXTRA_INDEX_HINT, addExtraIndexes, dropExtraIndexes, missingExtraIndexes } from '../db/extra-indexes.js';
import { assertUsableSchema, schemaState, syncDatabase } from '../db/migrate.js';
import { seedCatalog } from '../services/metadef-files.js';
import { configFrom, withCommonOptions } from './common.js';
import { glanceManageSpellings, metadefsCommand } from './metadefs.js';

async function withDb<T>(options: CliOptions, fn: (db: ReturnType<typeof openDatabase>) => Promise<T>): Promise<T> {
  const db = openDatabase(configFrom(options).database);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function dbSync(options: CliOptions): Promise<void> {
  await withDb(options, async (db) => {
    const { revision, created } = await syncDatabase(db);
    if (!created) {
      process.stdout.write(`Database is already at revision ${revision}; nothing to do\n`);
      const missing = await missingExtraIndexes(db);
      if (missing.length) process.stdout.write(`${EXTRA_INDEX_HINT} (missing: ${missing.map((i) => i.name).join(', ')})\n`);
      return;
    }
    const catalog = await seedCatalog(db);
    process.stdout.write(`Created Glance's schema at revision ${revision} in ${db.description}, with the built-in metadefs catalog (${catalog.loaded.length} namespaces)\n`);
  });
}

async function dbAddIndexes(options: CliOptions): Promise<void> {
  await withDb(options, async (db) => {
    await assertUsableSchema(db);
    const added = await addExtraIndexes(db);
    process.stdout.write(added.length ? `Added ${added.join(', ')}\n` : `No index to add on ${db.dialect}: ${db.dialect === 'postgres' ? 'all present' : 'Glimpse adds extra indexes on PostgreSQL only'}\n`);
  });
}

async function dbDropIndexes(options: CliOptions): Promise<void> {
  await withDb(options, async (db) => {
    await assertUsableSchema(db);
    const dropped = await dropExtraIndexes(db);
    process.stdout.write(dropped.length ? `Dropped ${dropped.join(', ')}\n` : 'No Glimpse index to drop\n');
  });
}

async function dbVersion(options: CliOptions): Promise<void> {
  await withDb(options, async (db) => {
    const state = await schemaState(db);
    if (state.kind === 'empty') throw new Error(`${db.description} holds no schema yet: run "glimpse manage db sync"`);
    if (state.kind === 'unknown') throw new Error(`${db.description} is at an unknown revision: ${state.revisions.join(', ') || 'none'}`);
    process.stdout.write(`${state.revision}\n`);
  });
}

export function manageCommand(): Command {
  const manage = new Command('manage').description("database and catalog administration (glance-manage's jobs)");
  const db = new Command('db').description('the database schema');
  db.addCommand(
    withCommonOptions(new Command('sync').description("create Glance's schema in an empty database, or check it"))
      .addHelpText('after', '\nExamples:\n  glimpse manage db sync --database postgresql://glance:secret@db/glance\n  glimpse manage db sync --config /etc/glance/glance-api.conf')
      .action(dbSync),
  );
  db.addCommand(
    withCommonOptions(new Command('version').description('print the schema revision (alembic head)'))
      .addHelpText('after', '\nExamples:\n  glimpse manage db version --config /etc/glance/glance-api.conf')
      .action(dbVersion),
  );
  db.addCommand(
    withCommonOptions(new Command('add-indexes').description("add Glimpse's extra indexes (PostgreSQL) to a Glance database, without locking out writers"))
      .addHelpText('after', '\nExamples:\n  glimpse manage db add-indexes --config /etc/glance/glance-api.conf')
      .action(dbAddIndexes),
  );
  db.addCommand(
    withCommonOptions(new Command('drop-indexes').description("remove Glimpse's extra indexes, leaving Glance's schema exactly as Glance made it"))
      .addHelpText('after', '\nExamples:\n  glimpse manage db drop-indexes --config /etc/glance/glance-api.conf')
      .action(dbDropIndexes),
  );
  // glance-manage's spellings, for operators' scripts.
  db.addCommand(withCommonOptions(new Command('db_sync').description('same as "db sync"').action(dbSync)), { hidden: true });
  db.addCommand(withCommonOptions(new Command('db_version').description('same as "db version"').action(dbVersion)), { hidden: true });
  glanceManageSpellings(db);
  manage.addCommand(db);
  manage.addCommand(metadefsCommand());
  return manage;
}
