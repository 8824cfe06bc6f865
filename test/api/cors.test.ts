/** CORS as oslo.middleware answers it, configured by glance-api.conf's [cors] section. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { suiteServer } from '../helpers/server.js';

describe('cors', () => {
  const server = suiteServer({ socket: true, ini: '[cors]\nallowed_origin = https://dash.example.org\nmax_age = 600\n' });

  it('answers an allowed preflight with the allowed method, headers and max age', async () => {
    const res = await fetch(`${server.url}/v2/images/x/file`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://dash.example.org',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type, x-auth-token',
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example.org');
    assert.equal(res.headers.get('access-control-allow-methods'), 'PUT');
    assert.equal(res.headers.get('access-control-allow-headers'), 'content-type,x-auth-token');
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  });

  it('gives no CORS headers to other origins or unlisted headers', async () => {
    const other = await fetch(`${server.url}/v2/images`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const header = await fetch(`${server.url}/v2/images`, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example.org', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-secret' },
    });
    assert.equal(header.headers.get('access-control-allow-origin'), null);
  });

  it('marks actual responses for the allowed origin and exposes Glance\'s headers', async () => {
    const res = await fetch(`${server.url}/v2/images`, { headers: { origin: 'https://dash.example.org' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example.org');
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /X-OpenStack-Request-ID/);
    const plain = await fetch(`${server.url}/v2/images`);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });
});
