/**
 * A second proxy server of the Swift all-in-one that authenticates with the
 * real test Keystone (keystonemiddleware's auth_token + Swift's
 * keystoneauth) instead of tempauth: the same rings and storage servers, each
 * Keystone project its own account `AUTH_<project id>`. The catalog's
 * object-store endpoint is pointed at it, so tokens carry its URL, as in a
 * real cloud. Used by the multi-tenant and Keystone v3 Swift suites.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KEYSTONE_URL, issueToken } from './keystone.js';
import { stopProcess } from './process.js';

const AIO_PROXY_CONF = '/var/tmp/swift-aio/etc/proxy-server.conf';
const SERVICE_NAME = 'swift-glimpse-tests';

export interface KeystoneSwift {
  /** e.g. http://127.0.0.1:40123 (storage URLs are `${url}/v1/AUTH_<project id>`). */
  url: string;
  stop(): Promise<void>;
}

export async function startKeystoneSwift(): Promise<KeystoneSwift> {
  if (!existsSync(AIO_PROXY_CONF)) throw new Error(`${AIO_PROXY_CONF} is missing: set up ../shared/swift first`);
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-swift-ks-'));
  const port = await freePort();
  const conf = readFileSync(AIO_PROXY_CONF, 'utf8')
    .replace(/^bind_port = .*$/m, `bind_port = ${port}`)
    .replace(/^workers = .*$/m, 'workers = 0')
    .replace(/^log_address = .*$/m, '')
    .replace(
      /^pipeline = .*$/m,
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats authtoken keystoneauth copy slo dlo proxy-logging proxy-server',
    );
  writeFileSync(
    path.join(dir, 'proxy-server.conf'),
    `${conf}
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = ${KEYSTONE_URL}
auth_url = ${KEYSTONE_URL}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glimpse
password = glimpse-pass
delay_auth_decision = True

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_prefix = AUTH_
`,
  );
  // Debian's Swift runs on /usr/bin/python3, with nothing of another Python in its environment.
  const child: ChildProcess = spawn('/usr/bin/swift-proxy-server', [path.join(dir, 'proxy-server.conf'), '-v'], {
    env: { PATH: '/usr/bin:/bin', HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess({ child });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await fetch(`${url}/healthcheck`).catch(() => null))?.status === 200, 30_000);
    await pointCatalogAt(`${url}/v1/AUTH_$(project_id)s`);
  } catch (err) {
    await stop();
    throw new Error(`the Keystone-authenticated Swift proxy did not start: ${(err as Error).message}\n${log}`);
  }
  return { url, stop };
}

/** Keystone's object-store service for these tests, its endpoints set to `template` (idempotent). */
async function pointCatalogAt(template: string): Promise<void> {
  const admin = (await issueToken('admin', 'admin-pass', 'admin')).token;
  const h = { 'x-auth-token': admin, 'content-type': 'application/json' };
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${KEYSTONE_URL}/v3${p}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? null : ((await res.json()) as any);
  };
  let service = (await call('GET', `/services?type=object-store`)).services.find((s: { name: string }) => s.name === SERVICE_NAME);
  service ??= (await call('POST', '/services', { service: { type: 'object-store', name: SERVICE_NAME, enabled: true } })).service;
  const endpoints = (await call('GET', `/endpoints?service_id=${service.id}`)).endpoints as { id: string; interface: string; url: string }[];
  for (const iface of ['public', 'internal', 'admin']) {
    const found = endpoints.find((e) => e.interface === iface);
    if (!found) await call('POST', '/endpoints', { endpoint: { service_id: service.id, interface: iface, url: template, region_id: 'RegionOne', enabled: true } });
    else if (found.url !== template) await call('PATCH', `/endpoints/${found.id}`, { endpoint: { url: template } });
  }
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
