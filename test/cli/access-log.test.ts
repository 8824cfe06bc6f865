/** What a server process logs: one access line per request (request id, caller, status, bytes, duration), 5xx causes, and never a token. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { waitFor } from '../helpers/upload.js';

describe('access log', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'glimpse-access-log-'));
  let server: ServerProcess;
  after(async () => {
    if (server) await stopProcess(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs each request with its id, caller, status, bytes and duration, and no token', async () => {
    const config = path.join(dataDir, 'glance-api.conf');
    writeFileSync(config, '[glimpse]\nauth = headers\n');
    server = await serveProcess(['--data-dir', dataDir, '--bind', '127.0.0.1:0', '--config', config]);
    const secret = 'gAAAAA-a-token-that-must-never-be-logged';
    const res = await fetch(`${server.url}/v2/images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-identity-status': 'Confirmed', 'x-user-id': 'u-1', 'x-project-id': 'p-1', 'x-roles': 'member', 'x-auth-token': secret, 'x-openstack-request-id': 'req-abc' },
      body: JSON.stringify({ name: 'logged' }),
    });
    assert.equal(res.status, 201);
    await waitFor(async () => server.log().includes('"status":201'), 'the access line');
    const line = server.log().split('\n').map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : null)).find((l) => l?.status === 201)!;
    assert.deepEqual([line.reqId, line.user, line.project, line.method, line.path], ['req-abc', 'u-1', 'p-1', 'POST', '/v2/images']);
    assert.equal(typeof line.ms, 'number');
    assert.equal(line.bytes, Number(res.headers.get('content-length')));
    assert.ok(!server.log().includes(secret), 'tokens are never logged');
  });
});
