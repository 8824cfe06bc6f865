/** `/healthcheck` as oslo.middleware's: drained by a file (disable_by_file), and a detailed JSON view when configured. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

describe('healthcheck', () => {
  const server = suiteServer({ auth: 'headers', ini: '[healthcheck]\ndetailed = true\n' });
  const api = server.client();

  it('answers 503 DISABLED BY FILE while the file beside the config exists, and OK again once it is gone', async () => {
    const file = path.join(server.dataDir, 'healthcheck_disable');
    assert.equal((await api.get('/healthcheck', { as: {}, headers: { accept: 'text/plain' } })).text, 'OK');
    writeFileSync(file, '');
    const drained = await api.get('/healthcheck', { as: {}, headers: { accept: 'text/plain' } });
    assert.deepEqual([drained.status, drained.text], [503, 'DISABLED BY FILE']);
    assert.equal((await api.get('/v2/images', { as: ADMIN })).status, 200, 'the API keeps serving while the balancer drains the node');
    rmSync(file);
    assert.equal((await api.get('/healthcheck', { as: {}, headers: { accept: 'text/plain' } })).status, 200);
  });

  it('details the database, the stores and the work in flight as JSON when [healthcheck] detailed is on', async () => {
    const res = await api.get('/healthcheck', { as: {}, headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    assert.equal(res.json.detailed, true);
    const [reason] = res.json.reasons;
    assert.equal(reason.reason, 'OK');
    assert.deepEqual(reason.details.stores, [{ id: 'file', type: 'file' }]);
    assert.equal(reason.details.database, 'ok');
    assert.equal(reason.details.uploads_in_flight, 0);
  });

  it('shows admins the same state through the API, whatever [healthcheck] detailed says', async () => {
    const admin = await api.get('/v2/glimpse/health', { as: ADMIN });
    assert.equal(admin.status, 200);
    assert.equal(admin.json.database, 'ok');
    assert.equal((await api.get('/v2/glimpse/health', { as: ALPHA_MEMBER })).status, 403);
  });
});
