/** --auth keystone against the real Keystone: validation, caching, forged headers, outages. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { KEYSTONE_INI, KEYSTONE_URL, issueToken, keystoneSkip, projectId } from '../helpers/keystone.js';
import { startTestServer, suiteServer } from '../helpers/server.js';

const skip = keystoneSkip();

/** A TCP relay to Keystone that the test can cut, to play an outage. */
async function relay(): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(5001, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('keystone auth', { skip }, () => {
  const server = suiteServer({ socket: true, auth: 'keystone', ini: KEYSTONE_INI('token_cache_time = 0\n') });
  let alpha: { token: string; projectId: string };
  let reader: { token: string; projectId: string };
  before(async () => {
    alpha = await issueToken('alpha-member', 'pass', 'alpha');
    reader = await issueToken('alpha-reader', 'pass', 'alpha');
  });

  it('takes the identity from a valid token', async () => {
    const api = new Client(server.url, { token: alpha.token });
    const image = await api.createImage({ name: 'from-keystone' });
    assert.equal(image.owner, projectId('alpha'));
    assert.equal(alpha.projectId, projectId('alpha'));
    assert.deepEqual((await api.get('/v2/images')).json.images.map((i: { id: string }) => i.id), [image.id]);
  });

  it('answers 401 with WWW-Authenticate without a token or with a bad one', async () => {
    const api = new Client(server.url);
    for (const headers of [{}, { 'x-auth-token': 'gAAAAAnot-a-real-token' }] as Record<string, string>[]) {
      const res = await api.get('/v2/images', { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Keystone uri="${KEYSTONE_URL}"`);
    }
  });

  it('ignores identity headers sent by the client', async () => {
    const api = new Client(server.url);
    const forged = { 'x-identity-status': 'Confirmed', 'x-project-id': projectId('alpha'), 'x-roles': 'admin,member', 'x-user-id': 'evil' };
    assert.equal((await api.get('/v2/images', { headers: forged })).status, 401);
    const asReader = await api.post('/v2/images', { name: 'x' }, { headers: { ...forged, 'x-auth-token': reader.token } });
    assert.equal(asReader.status, 403, 'the reader token stays a reader whatever the headers say');
    const other = await api.post('/v2/images', { name: 'x', owner: projectId('beta') }, { headers: { ...forged, 'x-auth-token': alpha.token, 'x-project-id': projectId('beta') } });
    assert.equal(other.status, 403);
  });

  it('refuses a revoked token', async () => {
    const victim = await issueToken('beta-member', 'pass', 'beta');
    const api = new Client(server.url, { token: victim.token });
    assert.equal((await api.get('/v2/images')).status, 200);
    const admin = await issueToken('admin', 'admin-pass', 'admin');
    const revoke = await fetch(`${KEYSTONE_URL}/v3/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': admin.token, 'x-subject-token': victim.token } });
    assert.equal(revoke.status, 204);
    assert.equal((await api.get('/v2/images')).status, 401);
  });

  it('keeps serving validated tokens while Keystone is unreachable, and says so for new ones', async () => {
    const link = await relay();
    const ini = KEYSTONE_INI('token_cache_time = 0\nhttp_connect_timeout = 2\n').replace(`auth_url = ${KEYSTONE_URL}`, `auth_url = ${link.url}`);
    const isolated = await startTestServer({ auth: 'keystone', ini });
    try {
      const known = new Client(isolated.url, { token: alpha.token });
      assert.equal((await known.get('/v2/images')).status, 200);
      link.cut();
      assert.equal((await known.get('/v2/images')).status, 200, 'a token validated before the outage still works');
      const fresh = await new Client(isolated.url, { token: reader.token }).get('/v2/images');
      assert.equal(fresh.status, 503);
      assert.match(fresh.json.message, /Keystone service is temporarily unavailable/);
    } finally {
      await isolated.close();
      await link.close();
    }
  });

  it('caches validations for token_cache_time', async () => {
    const cached = await startTestServer({ auth: 'keystone', ini: KEYSTONE_INI('token_cache_time = 300\n') });
    try {
      const victim = await issueToken('beta-member', 'pass', 'beta');
      const api = new Client(cached.url, { token: victim.token });
      assert.equal((await api.get('/v2/images')).status, 200);
      const admin = await issueToken('admin', 'admin-pass', 'admin');
      await fetch(`${KEYSTONE_URL}/v3/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': admin.token, 'x-subject-token': victim.token } });
      assert.equal((await api.get('/v2/images')).status, 200, 'as keystonemiddleware, a cached validation is trusted until it ages out');
    } finally {
      await cached.close();
    }
  });
});

describe('keystone configuration', () => {
  it('refuses --auth keystone without [keystone_authtoken]', async () => {
    await assert.rejects(startTestServer({ auth: 'keystone', ini: '' }), /keystone_authtoken/);
  });
});
