/**
 * Which database the integration suites run against (GLIMPSE_TEST_DB =
 * sqlite | postgres | mysql), and a fresh database of that kind per server.
 * PostgreSQL and MariaDB are the machine's own services.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { openDatabase } from '../../src/db/connection.js';
import { syncDatabase } from '../../src/db/migrate.js';
import { seedCatalog } from '../../src/services/metadef-files.js';

export type TestDialect = 'sqlite' | 'postgres' | 'mysql';
export const TEST_DIALECT = (process.env.GLIMPSE_TEST_DB ?? 'sqlite') as TestDialect;

const POSTGRES = process.env.GLIMPSE_TEST_POSTGRES ?? 'postgresql://postgres@127.0.0.1:5432/test';
const MYSQL = process.env.GLIMPSE_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function withDatabase(admin: string, name: string): string {
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Test databases of one `npm test` run share a prefix, so the runner can drop whatever a failed suite left. */
const RUN = (process.env.GLIMPSE_TEST_RUN ?? 'adhoc').replace(/\W/g, '');
export const testDatabasePrefix = (run: string = RUN) => `glimpse_test_${run}_`;

/** Drops every test database of a run (the runner calls this after each dialect's suites). */
export async function dropRunDatabases(dialect: TestDialect, run: string): Promise<string[]> {
  const prefix = testDatabasePrefix(run);
  if (dialect === 'postgres') {
    const c = new pg.Client({ connectionString: POSTGRES });
    await c.connect();
    try {
      const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
      for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      return rows.map((r) => r.datname);
    } finally {
      await c.end();
    }
  }
  if (dialect === 'mysql') {
    const c = await mysql.createConnection(MYSQL);
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?', [`${prefix}%`]);
      for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.name}`);
      return rows.map((r) => r.name as string);
    } finally {
      await c.end();
    }
  }
  return [];
}

/** A new database on the server GLIMPSE_TEST_DB names, with Glance's schema unless `empty`. */
export async function createTestDatabase(dialect: TestDialect = TEST_DIALECT, empty = false): Promise<TestDatabase | null> {
  if (dialect === 'sqlite') return null;
  const name = `${testDatabasePrefix()}${randomBytes(6).toString('hex')}`;
  let drop: () => Promise<void>;
  let url: string;
  if (dialect === 'postgres') {
    const admin = new pg.Client({ connectionString: POSTGRES });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url = withDatabase(POSTGRES, name);
    drop = async () => {
      const c = new pg.Client({ connectionString: POSTGRES });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    const admin = await mysql.createConnection(MYSQL);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url = withDatabase(MYSQL, name).replace(/^mysql:/, 'mysql+pymysql:');
    drop = async () => {
      const c = await mysql.createConnection(MYSQL);
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    };
  }
  if (empty) return { url, drop };
  const db = openDatabase(url);
  try {
    await syncDatabase(db);
    await seedCatalog(db);
  } finally {
    await db.close();
  }
  return { url, drop };
}

/** Whether the server for a dialect answers (the runner skips or fails its suites otherwise). */
export async function reachable(dialect: TestDialect): Promise<boolean> {
  try {
    if (dialect === 'postgres') {
      const c = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 });
      await c.connect();
      await c.end();
    } else if (dialect === 'mysql') {
      const c = await mysql.createConnection({ uri: MYSQL, connectTimeout: 3000 });
      await c.end();
    }
    return true;
  } catch {
    return false;
  }
}
