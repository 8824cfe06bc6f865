/**
 * The real glance-api (Debian's, the one the drop-in tests run) for a
 * side-by-side benchmark: its own SQLite database and file store in a
 * scratch directory, identities taken from trusted headers (keystonemiddleware's
 * X-* headers through Glance's `context` filter), as Glimpse's `--auth headers`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const GLANCE_API = '/usr/bin/glance-api';
const GLANCE_MANAGE = '/usr/bin/glance-manage';
const PASTE = '/etc/glance/glance-api-paste.ini';

export function glanceInstalled(): boolean {
  return existsSync(GLANCE_API) && existsSync(GLANCE_MANAGE) && existsSync(PASTE);
}

export interface GlanceServer {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Writes the config for `dir` (database, store, trusted-header pipeline) and creates Glance's schema once. */
export function prepareGlance(dir: string): void {
  // Debian's paste file has no trusted-headers pipeline: add one (the keystone one without authtoken).
  writeFileSync(path.join(dir, 'paste.ini'), `${readFileSync(PASTE, 'utf8')}\n[pipeline:glance-api-trusted]\npipeline = cors healthcheck http_proxy_to_wsgi versionnegotiation osprofiler context rootapp\n`);
  writeFileSync(path.join(dir, 'policy.yaml'), '{}\n');
  writeFileSync(path.join(dir, 'glance-api.conf'), config(dir, 0, 1));
  execFileSync(GLANCE_MANAGE, ['--config-file', path.join(dir, 'glance-api.conf'), 'db_sync'], { stdio: 'ignore' });
}

function config(dir: string, port: number, workers: number): string {
  return [
    '[DEFAULT]',
    'bind_host = 127.0.0.1',
    `bind_port = ${port}`,
    `workers = ${workers}`,
    `log_file = ${path.join(dir, 'glance.log')}`,
    '[database]',
    `connection = sqlite:///${path.join(dir, 'glance.sqlite')}`,
    '[glance_store]',
    'stores = file',
    'default_store = file',
    `filesystem_store_datadir = ${path.join(dir, 'images')}`,
    '[paste_deploy]',
    'flavor = trusted',
    `config_file = ${path.join(dir, 'paste.ini')}`,
    '[oslo_policy]',
    `policy_file = ${path.join(dir, 'policy.yaml')}`,
    '',
  ].join('\n');
}

/** Starts glance-api with `workers` processes on the prepared `dir`. */
export async function startGlance(dir: string, workers: number): Promise<GlanceServer> {
  const port = await freePort();
  const conf = path.join(dir, `glance-api-${workers}.conf`);
  writeFileSync(conf, config(dir, port, workers));
  const child: ChildProcess = spawn(GLANCE_API, ['--config-file', conf], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await fetch(`${url}/versions`).catch(() => null);
    if (res?.status === 200) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`glance-api did not start (see ${path.join(dir, 'glance.log')})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}
