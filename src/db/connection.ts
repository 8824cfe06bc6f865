/**
 * Opens the database named by a SQLAlchemy-style URL (`[database] connection`)
 * and knows how each dialect stores booleans and timestamps.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, type RawBuilder, SqliteDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import { createConnection as createMysqlConnection } from 'mysql2/promise';
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
  /** The connection pool's state (PostgreSQL, MySQL): connections open, idle, and requests waiting for one. SQLite has none. */
  poolStats?(): { open: number; idle: number; waiting: number };
  /** Where the time each request waited for a pooled connection is reported (PostgreSQL, MySQL). */
  observePoolWaits?(observer: (seconds: number) => void): void;
  /**
   * A column reference the planner must not use an index for. Glance indexes
   * every `deleted` flag; SQLite, lacking statistics, prefers those
   * low-selectivity indexes over the image_id ones and scans every live row.
   */
  unindexed(column: string): RawBuilder<unknown>;
  /**
   * Runs `work` in one transaction that holds an exclusive lock named `key`
   * until it commits: what `work` counts and then writes cannot be raced by
   * another request, process or node. `work` must use the executor it is
   * given (a second connection could wait on the first one forever).
   */
  exclusive<T>(key: string, work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Locks an image row inside a transaction until it ends (a write lock on SQLite). */
  lockImage(trx: Kysely<Database>, id: string): Promise<void>;
  /**
   * Runs `work` on one connection, and cancels its statement in the server
   * when `signal` aborts (the client went away): a query nobody waits for
   * stops using the database.
   */
  cancellable<T>(signal: AbortSignal | undefined, work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Whether a connection can be had and answers within `ms` (the health check). */
  ping(ms: number): Promise<boolean>;
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
  /** `[database] pool_timeout`, in ms: how long a request waits for a free connection before a 503. */
  poolTimeoutMs?: number;
  /** `[database] statement_timeout`, in ms (0: none): a statement running longer is cancelled by the server. */
  statementTimeoutMs?: number;
}

/** The error a database timeout (statement or pool) becomes: callers map it to 503. */
export class DatabaseBusyError extends Error {}

/** PostgreSQL's query_canceled, MariaDB's and MySQL's statement timeouts, and waits for a pooled connection. */
export function isDatabaseBusy(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string } | null;
  if (!e) return false;
  if (err instanceof DatabaseBusyError || e.code === '57014') return true;
  if (e.errno === 1969 || e.errno === 3024 || e.errno === 1317) return true;
  return typeof e.message === 'string' && /timeout exceeded when trying to connect|Queue limit reached|Pool is closed/.test(e.message);
}

const lockName = (key: string) => createHash('sha1').update(key).digest('hex');

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
const TIMED_OUT = Symbol('timed out');

async function pingWith(kysely: Kysely<Database>, ms: number): Promise<boolean> {
  const answer = sql`SELECT 1`.execute(kysely).then(
    () => true,
    () => false,
  );
  return (await withTimeout(answer, ms)) === true;
}

/** A database URL Glimpse cannot open: the scheme or the database name is missing or unknown. */
export class DatabaseUrlError extends Error {}

/** Opens a database from a SQLAlchemy-style URL: sqlite:///…, postgresql[+driver]://…, mysql[+driver]://… */
export function openDatabase(url: string, options: PoolOptions = {}): Db {
  const scheme = url.split(':', 1)[0].split('+', 1)[0];
  if (scheme === 'sqlite') return openSqlite(url);
  if (scheme === 'postgresql' || scheme === 'postgres') return openPostgres(url, options);
  if (scheme === 'mysql' || scheme === 'mariadb') return openMysql(url, options);
  throw new DatabaseUrlError(`database URL scheme "${scheme}" is not supported: use sqlite:///PATH, postgresql://… or mysql+pymysql://…`);
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
  if (!database) throw new DatabaseUrlError(`database URL ${url.replace(/:[^:@/]*@/, ':***@')} names no database`);
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
    connectionTimeoutMillis: options.poolTimeoutMs ?? 30_000,
    // Every Glimpse query is short and index-driven; a parallel plan's worker
    // start-up made a filtered list of 1,000 images six times slower (270 ms
    // against 45 ms on 1M images), so this pool's sessions plan serially.
    // join_collapse_limit = 1: each list filter is a semi-join, and searching
    // every join order of N of them took seconds to plan past ~20 filters
    // (50: 1.4 s, 200: minutes); in the written order planning stays linear.
    options:
      '-c max_parallel_workers_per_gather=0 -c join_collapse_limit=1' +
      (options.statementTimeoutMs ? ` -c statement_timeout=${options.statementTimeoutMs}` : ''),
  });
  // An idle connection the server drops (restart, failover) is an event, not a crash: the pool replaces it.
  pool.on('error', () => undefined);
  const waits = timedAcquire(pool, 'connect');
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: 'postgres',
    description: u.description,
    poolStats: () => ({ open: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    observePoolWaits: waits,
    toBool: (v) => v,
    toTime: (d) => utcText(d),
    unindexed: (column) => sql.ref(column),
    exclusive: (key, work) =>
      kysely.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
        return work(trx);
      }),
    lockImage: async (trx, id) => {
      await sql`SELECT id FROM images WHERE id = ${id} FOR UPDATE`.execute(trx);
    },
    cancellable: (signal, work) =>
      cancellableOn(kysely, signal, sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`, async (pid) => {
        const client = new pg.Client({ host: u.params.get('host') ?? u.host, port: u.port, user: u.user, password: u.password, database: u.database });
        await client.connect();
        try {
          await client.query('SELECT pg_cancel_backend($1)', [pid]);
        } finally {
          await client.end();
        }
      }, work),
    ping: (ms) => pingWith(kysely, ms),
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
  pool.on('connection', (connection) => {
    // oslo.db's default session mode for MySQL ([database] mysql_sql_mode).
    connection.query("SET SESSION sql_mode = 'TRADITIONAL'");
    // Read committed, as PostgreSQL: a count taken after waiting for a lock
    // sees what the lock's previous holder committed.
    connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    if (options.statementTimeoutMs) {
      // MariaDB's name (seconds) and MySQL's (ms, SELECT only); each server ignores the other's with an error.
      connection.query(`SET SESSION max_statement_time = ${options.statementTimeoutMs / 1000}`, () => undefined);
      connection.query(`SET SESSION max_execution_time = ${options.statementTimeoutMs}`, () => undefined);
    }
  });
  const waits = timedAcquire(pool, 'getConnection');
  const kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  const timeoutS = Math.ceil((options.poolTimeoutMs ?? 30_000) / 1000);
  return {
    kysely,
    dialect: 'mysql',
    observePoolWaits: waits,
    // mysql2 keeps these lists on the pool; they are its state, read-only here.
    poolStats: () => {
      const p = pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
      return { open: p._allConnections?.length ?? 0, idle: p._freeConnections?.length ?? 0, waiting: p._connectionQueue?.length ?? 0 };
    },
    description: u.description,
    toBool: (v) => (v ? 1 : 0),
    toTime: (d) => utcText(d, false),
    unindexed: (column) => sql.ref(column),
    // GET_LOCK belongs to the session, not the transaction: taken and released on the one connection around it.
    exclusive: (key, work) =>
      kysely.connection().execute(async (conn) => {
        const name = lockName(key);
        const got = await sql<{ got: number | null }>`SELECT GET_LOCK(${name}, ${timeoutS}) AS got`.execute(conn);
        if (Number(got.rows[0]?.got) !== 1) throw new DatabaseBusyError(`could not take the database lock for ${key} within ${timeoutS} s`);
        try {
          return await conn.transaction().execute(work);
        } finally {
          await sql`SELECT RELEASE_LOCK(${name})`.execute(conn);
        }
      }),
    lockImage: async (trx, id) => {
      await sql`SELECT id FROM images WHERE id = ${id} FOR UPDATE`.execute(trx);
    },
    cancellable: (signal, work) =>
      cancellableOn(kysely, signal, sql<{ pid: number }>`SELECT CONNECTION_ID() AS pid`, async (pid) => {
        const killer = await createMysqlConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database });
        try {
          await killer.query(`KILL QUERY ${Number(pid)}`);
        } finally {
          await killer.end();
        }
      }, work),
    ping: (ms) => pingWith(kysely, ms),
    close: () => kysely.destroy(),
  };
}

/** `sqlite:////abs/path`, `sqlite:///relative/path`, `sqlite://` (in memory). */
/**
 * Pins one connection, learns its server-side id, and asks the server to
 * cancel whatever that connection runs if the signal aborts before `work` ends.
 */
async function cancellableOn<T>(
  kysely: Kysely<Database>,
  signal: AbortSignal | undefined,
  whoAmI: RawBuilder<{ pid: number }>,
  cancel: (pid: number) => Promise<void>,
  work: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (!signal) return work(kysely);
  return kysely.connection().execute(async (conn) => {
    const pid = (await whoAmI.execute(conn)).rows[0].pid;
    let done = false;
    let cancelling: Promise<void> | null = null;
    // Best effort: if the cancel fails, the statement timeout still ends the query.
    const onAbort = () => {
      if (!done) cancelling = cancel(pid).catch(() => undefined);
    };
    if (signal.aborted) throw new DatabaseBusyError('the client went away');
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await work(conn);
    } finally {
      done = true;
      signal.removeEventListener('abort', onAbort);
      // The connection goes back to the pool only once a cancel sent for it has
      // landed, so it can never cancel the next request's statement.
      if (cancelling) await cancelling;
    }
  });
}

function sqlitePath(url: string): string {
  const rest = url.replace(/^sqlite(\+\w+)?:\/\//, '').split('?', 1)[0];
  if (rest === '' || rest === '/') return ':memory:';
  return rest.slice(1);
}

/**
 * Kysely prepares every statement anew; preparing costs as much as running a
 * small query, so prepared statements are kept, by SQL text, in a bounded LRU.
 */
/**
 * Times how long each request waits for a pooled connection: the pool's
 * acquire method (`connect` for pg, promise or callback; `getConnection`
 * for mysql2, callback) is wrapped; returns where to report the waits.
 */
function timedAcquire(pool: object, method: 'connect' | 'getConnection'): (observer: (seconds: number) => void) => void {
  let observe: ((seconds: number) => void) | null = null;
  const target = pool as Record<string, (...args: unknown[]) => unknown>;
  const original = target[method].bind(pool);
  target[method] = (...args: unknown[]) => {
    const started = performance.now();
    const done = () => observe?.((performance.now() - started) / 1000);
    const callback = typeof args[0] === 'function' ? (args[0] as (...r: unknown[]) => void) : null;
    if (callback) return original((...r: unknown[]) => (done(), callback(...r)));
    const result = original(...args) as Promise<unknown>;
    return result.then((connection) => (done(), connection));
  };
  return (observer) => {
    observe = observer;
  };
}

function withStatementCache(sqlite: SQLite.Database, size = 500) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
      } else {
        // Every transaction takes SQLite's write lock when it begins (waiting up to busy_timeout): with several
        // processes on one file (workers, nodes), a transaction that read first and wrote second would otherwise
        // fail at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another process wrote in between.
        statement = sqlite.prepare(text === 'begin' ? 'begin immediate' : text);
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
  // Every transaction begins IMMEDIATE (withStatementCache): it holds SQLite's one write lock from its first
  // statement, so exclusive() and lockImage() need nothing more than the transaction itself.
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    kysely,
    dialect: 'sqlite',
    description: `sqlite:///${file}`,
    toBool: (v) => (v ? 1 : 0),
    toTime: (d) => utcText(d),
    unindexed: (column) => sql`+${sql.ref(column)}`,
    exclusive: (_key, work) => kysely.transaction().execute(work),
    lockImage: async () => undefined,
    // A SQLite statement runs to its end on this thread: there is nothing to cancel from outside.
    cancellable: (_signal, work) => work(kysely),
    ping: (ms) => pingWith(kysely, ms),
    close: () => kysely.destroy(),
  };
}
