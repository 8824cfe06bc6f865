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
import { type Glimpse, type RunningServer, compose, createLogger, listen } from '../../src/server.js';
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

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-test-'));
  const { ini, files, ...cli } = options;
  for (const [name, text] of Object.entries(files ?? {})) writeFileSync(path.join(dataDir, name), text);
  let config: string | undefined;
  if (ini !== undefined) {
    config = path.join(dataDir, 'glance-api.conf');
    writeFileSync(config, ini);
  }
  const database = cli.database ? null : await createTestDatabase();
  let server: RunningServer;
  try {
    const cfg = loadConfig({ bind: '127.0.0.1:0', dataDir, config, ...(database ? { database: database.url } : {}), ...cli });
    const glimpse: Glimpse = await compose(cfg, createLogger(process.env.GLIMPSE_TEST_LOG ?? 'silent'));
    server = await listen(glimpse, cfg);
  } catch (err) {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: server.url,
    dataDir,
    server,
    close: async () => {
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
