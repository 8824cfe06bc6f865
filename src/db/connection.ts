/**
 * Opens the database named by a SQLAlchemy-style URL (`[database] connection`)
 * and knows how each dialect stores booleans and timestamps.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type RawBuilder, SqliteDialect, sql } from 'kysely';
import type { Database, DbBool, DbTime } from './tables.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: DialectName;
  /** A printable form of the URL with any password removed. */
  readonly description: string;
  toBool(value: boolean): DbBool;
  toTime(value: Date): DbTime;
  /**
   * A column reference the planner must not use an index for. Glance indexes
   * every `deleted` flag; SQLite, lacking statistics, prefers those
   * low-selectivity indexes over the image_id ones and scans every live row.
   */
  unindexed(column: string): RawBuilder<unknown>;
  close(): Promise<void>;
}

export function fromBool(value: DbBool | null): boolean {
  return value === true || value === 1 || (value as unknown) === '1';
}

/** Naive-UTC timestamps, whatever the driver hands back. */
export function fromTime(value: DbTime): Date {
  if (value instanceof Date) return value;
  const iso = value.includes('T') ? value : value.replace(' ', 'T');
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

/** SQLite compares timestamps as text, so the format must be exactly Glance's. */
export function sqliteTime(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`
  );
}

export function openDatabase(url: string): Db {
  const scheme = url.split(':', 1)[0].split('+', 1)[0];
  if (scheme === 'sqlite') return openSqlite(url);
  throw new Error(
    `database URL scheme "${scheme}" is not supported by this version of Glimpse (supported: sqlite:///PATH)`,
  );
}

/** `sqlite:////abs/path`, `sqlite:///relative/path`, `sqlite://` (in memory). */
function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite(\+\w+)?:\/\//, '').split('?', 1)[0];
  if (rest === '' || rest === '/') return ':memory:';
  return rest.slice(1);
}

/**
 * Kysely prepares every statement anew; preparing costs as much as running a
 * small query, so prepared statements are kept, by SQL text, in a bounded LRU.
 */
function withStatementCache(sqlite: SQLite.Database, size = 500) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= size) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, statement);
      return statement;
    },
  };
}

function openSqlite(url: string): Db {
  const file = sqlitePath(url);
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL survives a process crash; only the last commits can be lost on power failure.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('foreign_keys = ON');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    kysely,
    dialect: 'sqlite',
    description: `sqlite:///${file}`,
    toBool: (v) => (v ? 1 : 0),
    toTime: sqliteTime,
    unindexed: (column) => sql`+${sql.ref(column)}`,
    close: () => kysely.destroy(),
  };
}
