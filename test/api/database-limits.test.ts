/**
 * The database's own guards, on the real PostgreSQL and MariaDB: a statement
 * running past `[database] statement_timeout` is stopped by the server, and a
 * statement whose client went away is cancelled in the server (so a list
 * nobody waits for stops holding a connection). SQLite runs in-process: a
 * statement there cannot outlive its request, and it has neither guard.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type Db, isDatabaseBusy, openDatabase } from '../../src/db/connection.js';
import { TEST_DIALECT, type TestDatabase, createTestDatabase } from '../helpers/databases.js';

const SLEEP = { postgres: (s: number) => sql`SELECT pg_sleep(${s})`, mysql: (s: number) => sql`SELECT SLEEP(${s})` };

describe(`database guards on ${TEST_DIALECT}`, { skip: TEST_DIALECT === 'sqlite' && 'SQLite runs in-process: nothing to time out or cancel' }, () => {
  let database: TestDatabase;
  let db: Db;
  const sleep = (s: number) => SLEEP[TEST_DIALECT as 'postgres' | 'mysql'](s);

  before(async () => {
    database = (await createTestDatabase())!;
    db = openDatabase(database.url, { statementTimeoutMs: 500, maxPoolSize: 2 });
  });
  after(async () => {
    await db.close();
    await database.drop();
  });

  it('stops a statement that runs past statement_timeout, as a 503-worthy error', async () => {
    const started = Date.now();
    const outcome = await sleep(5).execute(db.kysely).then(
      () => null,
      (err: unknown) => err,
    );
    const took = Date.now() - started;
    assert.ok(took < 4000, `the statement ran ${took} ms`);
    // MariaDB ends SLEEP() quietly when its time is up; every other statement gets the error.
    if (outcome !== null) assert.ok(isDatabaseBusy(outcome), String(outcome));
  });

  it('cancels the statement of a client that went away, and the connection serves the next request', async () => {
    const patient = openDatabase(database.url, { maxPoolSize: 1 });
    try {
      const left = new AbortController();
      const started = Date.now();
      const running = patient.cancellable(left.signal, (k) => sleep(5).execute(k));
      setTimeout(() => left.abort(), 200);
      await running.catch(() => undefined);
      const took = Date.now() - started;
      assert.ok(took < 2500, `a 5 s statement ended ${took} ms after it started, cancelled at 200 ms`);
      // The pool's one connection is free again and answers.
      const answer = await sql<{ one: number }>`SELECT 1 AS one`.execute(patient.kysely);
      assert.equal(Number(answer.rows[0].one), 1);
    } finally {
      await patient.close();
    }
  });
});
