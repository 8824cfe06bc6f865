/**
 * A Glimpse for a test, with its own data directory and database: on a real
 * loopback socket (`startTestServer`), or in-process without one
 * (`composeTestServer`, driven through Fastify's inject()) for suites that
 * only speak plain HTTP requests and answers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type CliOptions, loadConfig } from '../../src/config/config.js';
import { type RunningServer, compose, createLogger, listen } from '../../src/server.js';
import { after, before } from 'node:test';
import { Client, type Identity, injectTargets } from './client.js';
import { createTestDatabase } from './databases.js';

export interface TestServer {
  url: string;
  dataDir: string;
  server: RunningServer;
  close(): Promise<void>;
}

export interface TestServerOptions extends CliOptions {
  /** glance-api.conf contents, written to the data dir and passed as --config. */
  ini?: string;
  /** Extra files to place beside the config file (e.g. schema-image.json). */
  files?: Record<string, string>;
}

/** The data directory, config file and database of one test server. */
async function prepare(options: TestServerOptions) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-test-'));
  const { ini, files, ...cli } = options;
  for (const [name, text] of Object.entries(files ?? {})) writeFileSync(path.join(dataDir, name), text);
  let config: string | undefined;
  if (ini !== undefined) {
    config = path.join(dataDir, 'glance-api.conf');
    writeFileSync(config, ini);
  }
  const database = cli.database ? null : await createTestDatabase();
  const discard = async () => {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const cfg = loadConfig({ bind: '127.0.0.1:0', dataDir, config, ...(database ? { database: database.url } : {}), ...cli });
    const glimpse = await compose(cfg, createLogger(process.env.GLIMPSE_TEST_LOG ?? 'silent'));
    return { dataDir, cfg, glimpse, discard };
  } catch (err) {
    await discard();
    throw err;
  }
}

/** A real server on a free loopback port: for uploads, slow clients, real tools. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { dataDir, cfg, glimpse, discard } = await prepare(options);
  let server: RunningServer;
  try {
    server = await listen(glimpse, cfg);
  } catch (err) {
    await discard();
    throw err;
  }
  return {
    url: server.url,
    dataDir,
    server,
    close: async () => {
      await server.close();
      await discard();
    },
  };
}

let composed = 0;

/**
 * The same server composed in-process and never listening: its tests'
 * Client requests go through Fastify's inject(). For suites that only send
 * requests and read answers through Client.
 */
export async function composeTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { dataDir, glimpse, discard } = await prepare(options);
  const url = `http://inject-${process.pid}-${(composed += 1)}.glimpse.test`;
  injectTargets.set(url, glimpse.app);
  const close = async () => {
    injectTargets.delete(url);
    await glimpse.app.close();
    await glimpse.stop();
    await discard();
  };
  return { url, dataDir, server: { app: glimpse.app, db: glimpse.db, url, close }, close };
}

/**
 * One server for the tests of a describe block: composed in-process (or on a
 * real socket with `socket: true`) before them and closed after them. Its
 * fields are read once the block's tests run.
 */
export function suiteServer(options: TestServerOptions & { socket?: boolean } = {}): TestServer & { client(as?: Identity): Client } {
  const { socket, ...serverOptions } = options;
  let running: TestServer | undefined;
  const current = () => {
    if (!running) throw new Error('the suite server is read before its suite started');
    return running;
  };
  before(async () => {
    running = await (socket ? startTestServer : composeTestServer)(serverOptions);
  });
  after(() => running?.close());
  return {
    get url() {
      return current().url;
    },
    get dataDir() {
      return current().dataDir;
    },
    get server() {
      return current().server;
    },
    close: () => current().close(),
    client: (as?: Identity) => new Client(() => current().url, as ?? null),
  };
}
