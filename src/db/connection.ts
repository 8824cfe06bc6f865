/**
 * Opens the database named by a SQLAlchemy-style URL (`[database] connection`)
 * and knows how each dialect stores booleans and timestamps.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, type RawBuilder, SqliteDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
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
  return parseNaiveUtc(value) ?? parseOtherTime(value);
}

const digits = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
};

/**
 * `YYYY-MM-DD hh:mm:ss[.ffffff]`, the form every dialect stores: read digit
 * by digit, without the regular expression and intermediate strings of the
 * general path (a page of 1,000 images holds 2,000 of them).
 */
function parseNaiveUtc(s: string): Date | null {
  const n = s.length;
  if (n < 19 || n === 20 || n > 26 || s[4] !== '-' || s[7] !== '-' || s[13] !== ':' || s[16] !== ':') return null;
  if (n > 19 && (s[19] !== '.' || Number.isNaN(digits(s, 20, n)))) return null;
  // Milliseconds: the first three fraction digits, as Date keeps no more.
  const ms = n > 20 ? digits(s, 20, Math.min(n, 23)) * 10 ** Math.max(0, 23 - n) : 0;
  const t = Date.UTC(digits(s, 0, 4), digits(s, 5, 7) - 1, digits(s, 8, 10), digits(s, 11, 13), digits(s, 14, 16), digits(s, 17, 19), ms);
  return Number.isNaN(t) ? null : new Date(t);
}

function parseOtherTime(value: string): Date {
  const iso = value.includes('T') ? value : value.replace(' ', 'T');
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

/**
 * Naive-UTC text, as Glance writes timestamps: SQLite compares it as text (so
 * the format must be exact: 6 fraction digits), PostgreSQL keeps the
 * microseconds, MySQL keeps whole seconds.
 */
export function utcText(d: Date, fraction = true): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const seconds =
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return fraction ? `${seconds}.${pad(d.getUTCMilliseconds(), 3)}000` : seconds;
}

export interface PoolOptions {
  /** `[database] max_pool_size` */
  maxPoolSize?: number;
}

/** Opens a database from a SQLAlchemy-style URL: sqlite:///…, postgresql[+driver]://…, mysql[+driver]://… */
export function openDatabase(url: string, options: PoolOptions = {}): Db {
  const scheme = url.split(':', 1)[0].split('+', 1)[0];
  if (scheme === 'sqlite') return openSqlite(url);
  if (scheme === 'postgresql' || scheme === 'postgres') return openPostgres(url, options);
  if (scheme === 'mysql' || scheme === 'mariadb') return openMysql(url, options);
  throw new Error(`database URL scheme "${scheme}" is not supported: use sqlite:///PATH, postgresql://… or mysql+pymysql://…`);
}

interface ServerUrl {
  host: string;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string;
  params: URLSearchParams;
  description: string;
}

function parseServerUrl(url: string): ServerUrl {
  const u = new URL(url.replace(/^[\w+]+:/, 'db:'));
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`database URL ${url.replace(/:[^:@/]*@/, ':***@')} names no database`);
  return {
    host: decodeURIComponent(u.hostname) || 'localhost',
    port: u.port ? Number(u.port) : undefined,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database,
    params: u.searchParams,
    description: `${url.split(':', 1)[0]}://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}/${database}`,
  };
}

// `timestamp without time zone` comes back as text; fromTime reads it as UTC.
pg.types.setTypeParser(1114, (text: string) => text);

function openPostgres(url: string, options: PoolOptions): Db {
  const u = parseServerUrl(url);
  const pool = new pg.Pool({
    host: u.params.get('host') ?? u.host,
    port: u.port,
    user: u.user,
    password: u.password,
    database: u.database,
    max: options.maxPoolSize ?? 10,
    // Every Glimpse query is short and index-driven; a parallel plan's worker
    // start-up made a filtered list of 1,000 images six times slower (270 ms
    // against 45 ms on 1M images), so this pool's sessions plan serially.
    options: '-c max_parallel_workers_per_gather=0',
  });
  // An idle connection the server drops (restart, failover) is an event, not a crash: the pool replaces it.
  pool.on('error', () => undefined);
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: 'postgres',
    description: u.description,
    toBool: (v) => v,
    toTime: (d) => utcText(d),
    unindexed: (column) => sql.ref(column),
    close: () => kysely.destroy(),
  };
}

function openMysql(url: string, options: PoolOptions): Db {
  const u = parseServerUrl(url);
  const pool = createPool({
    host: u.host,
    port: u.port,
    user: u.user,
    password: u.password,
    database: u.database,
    socketPath: u.params.get('unix_socket') ?? undefined,
    connectionLimit: options.maxPoolSize ?? 10,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
  });
  // oslo.db's default session mode for MySQL ([database] mysql_sql_mode).
  pool.on('connection', (connection) => connection.query("SET SESSION sql_mode = 'TRADITIONAL'"));
  const kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  return {
    kysely,
    dialect: 'mysql',
    description: u.description,
    toBool: (v) => (v ? 1 : 0),
    toTime: (d) => utcText(d, false),
    unindexed: (column) => sql.ref(column),
    close: () => kysely.destroy(),
  };
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
    toTime: (d) => utcText(d),
    unindexed: (column) => sql`+${sql.ref(column)}`,
    close: () => kysely.destroy(),
  };
}
