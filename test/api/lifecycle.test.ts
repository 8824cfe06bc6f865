/**
 * Families and deprecation (beyond Glance), on every database: a family
 * resolves per caller to its newest active, non-deprecated image; deprecating
 * hides an image from default lists (os_hidden) while it still works by id,
 * records its replacement and schedule as ordinary properties, and
 * undeprecating reverses it. Bad requests get Glance-shaped 400s, and only
 * those who may modify an image may deprecate it. A scheduler in every
 * process deactivates images at obsolete_at and deletes them at delete_at
 * (never a protected one), each transition once however many nodes run it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, ALPHA_READER, BETA_MEMBER, Client } from '../helpers/client.js';
import { type TestDatabase, createTestDatabase } from '../helpers/databases.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { type TestServer, composeTestServer, suiteServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

describe('image families and deprecation', () => {
  const server = suiteServer({ auth: 'headers' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};
  const family = (name: string, as = ALPHA_MEMBER) => api.get(`/v2/glimpse/families/${name}`, { as });
  const listed = async (query = '') => (await api.get(`/v2/images?glimpse_family=ubuntu-2404${query}`)).json.images.map((i: { name: string }) => i.name).sort();

  before(async () => {
    // Created one after another: v1 oldest, v3 newest (and still queued).
    for (const name of ['v1', 'v2', 'v3']) {
      const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare', glimpse_family: 'ubuntu-2404' });
      ids[name] = image.id;
      if (name !== 'v3') assert.equal((await api.upload(image.id, `bytes of ${name}`)).status, 204);
      await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution, as Glance's
    }
    assert.equal((await api.patch(`/v2/images/${ids.v1}`, [{ op: 'replace', path: '/visibility', value: 'public' }], { as: ADMIN })).status, 200);
  });

  it('resolves a family to its newest active image the caller can see, with every version', async () => {
    const res = await family('ubuntu-2404');
    assert.equal(res.status, 200);
    assert.equal(res.json.family, 'ubuntu-2404');
    assert.equal(res.json.latest.id, ids.v2, 'v3 is newer but queued');
    assert.deepEqual(res.json.versions.map((v: { name: string }) => v.name), ['v3', 'v2', 'v1']);
    const beta = await family('ubuntu-2404', BETA_MEMBER);
    assert.equal(beta.json.latest.id, ids.v1, 'beta sees only the public v1');
    assert.deepEqual(beta.json.versions.map((v: { name: string }) => v.name), ['v1']);
    assert.equal((await family('no-such-family')).status, 404);
    assert.equal((await family('x'.repeat(256))).status, 400);
  });

  it('deprecates with a replacement and a schedule: hidden from lists, usable by id, skipped by the resolver', async () => {
    const res = await api.post(`/v2/images/${ids.v1}/actions/deprecate`, { replacement: ids.v2, obsolete_at: '2027-01-31T00:00:00Z', delete_at: '2027-06-30T00:00:00Z' });
    assert.equal(res.status, 200);
    assert.equal(res.json.os_hidden, true);
    assert.equal(res.json.glimpse_replacement, ids.v2);
    assert.equal(res.json.glimpse_obsolete_at, '2027-01-31T00:00:00.000Z');
    assert.equal(res.json.glimpse_delete_at, '2027-06-30T00:00:00.000Z');
    assert.match(res.json.glimpse_deprecated_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(await listed(), ['v2', 'v3'], 'gone from the default list');
    assert.deepEqual(await listed('&os_hidden=true'), ['v1']);
    assert.equal((await api.get(`/v2/images/${ids.v1}`)).status, 200);
    assert.equal((await api.get(`/v2/images/${ids.v1}/file`)).text, 'bytes of v1', 'still usable by id');
    const resolved = (await family('ubuntu-2404')).json;
    assert.equal(resolved.latest.id, ids.v2);
    assert.deepEqual(resolved.versions.map((v: { name: string }) => v.name), ['v3', 'v2', 'v1'], 'deprecated versions are still listed');
    const beta = await family('ubuntu-2404', BETA_MEMBER);
    assert.equal(beta.status, 200);
    assert.equal(beta.json.latest, null, 'beta can see only a deprecated version');
  });

  it('resolves to nothing when every usable version is deprecated, and undeprecating brings one back', async () => {
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {})).status, 200);
    assert.equal((await family('ubuntu-2404')).json.latest, null);
    const back = await api.post(`/v2/images/${ids.v2}/actions/undeprecate`);
    assert.equal(back.status, 200);
    assert.equal(back.json.os_hidden, false);
    for (const key of ['glimpse_deprecated_at', 'glimpse_replacement', 'glimpse_obsolete_at', 'glimpse_delete_at']) assert.equal(back.json[key], undefined, key);
    assert.equal((await family('ubuntu-2404')).json.latest.id, ids.v2);
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/undeprecate`)).status, 400, 'not deprecated');
  });

  it('refuses bad deprecations with 400 and changes nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ replacement: ids.v3.replace(/.$/, ids.v3.endsWith('0') ? '1' : '0') }, /could not be found/],
      [{ replacement: ids.v3 }, /cannot replace itself/],
      [{ obsolete_at: 'tomorrow' }, /ISO 8601/],
      [{ obsolete_at: '2027-06-01T00:00:00Z', delete_at: '2027-01-01T00:00:00Z' }, /must not come before/],
      [{ retire: true }, /Unknown deprecation field/],
      [['x'], /JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await api.post(`/v2/images/${ids.v3}/actions/deprecate`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, message);
    }
    const v3 = (await api.get(`/v2/images/${ids.v3}`)).json;
    assert.equal(v3.os_hidden, false);
    assert.equal(v3.glimpse_deprecated_at, undefined);
  });

  it('lets only those who may modify the image deprecate it (policy deprecate_image)', async () => {
    assert.equal((await api.post(`/v2/images/${ids.v1}/actions/undeprecate`, undefined, { as: BETA_MEMBER })).status, 403, 'beta sees the public v1 but does not own it');
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {}, { as: ALPHA_READER })).status, 403);
    assert.equal((await api.post(`/v2/images/${ids.v2}/actions/deprecate`, {}, { as: BETA_MEMBER })).status, 404, 'a private image of another project is not found');
    assert.equal((await api.post(`/v2/images/${ids.v1}/actions/undeprecate`, undefined, { as: ADMIN })).status, 200);
  });
});

/** The counter of scheduled transitions a node made, read from its /metrics. */
async function transitions(url: string, transition: string): Promise<number> {
  const text = (await new Client(url).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`glimpse_lifecycle_transitions_total{transition="${transition}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const soon = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

describe('the deprecation schedule', () => {
  const server = suiteServer({ auth: 'headers', ini: '[glimpse]\nlifecycle_interval_seconds = 1\n' });
  const api = server.client(ALPHA_MEMBER);
  const active = async (name: string, extra: Record<string, unknown> = {}) => {
    const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare', ...extra });
    assert.equal((await api.upload(image.id, `bytes of ${name}`)).status, 204);
    return image.id as string;
  };

  it('deactivates an image at obsolete_at and deletes one at delete_at, once each', async () => {
    const obsolete = await active('to-obsolete');
    const doomed = await active('to-delete');
    assert.equal((await api.post(`/v2/images/${obsolete}/actions/deprecate`, { obsolete_at: soon(2) })).status, 200);
    assert.equal((await api.post(`/v2/images/${doomed}/actions/deprecate`, { delete_at: soon(-1) })).status, 200);
    assert.equal((await api.get(`/v2/images/${obsolete}`)).json.status, 'active', 'not before its time');
    await waitFor(async () => (await api.get(`/v2/images/${obsolete}`, { as: ADMIN })).json.status === 'deactivated', 'obsolete → deactivated', 15_000);
    assert.equal((await api.get(`/v2/images/${obsolete}/file`)).status, 403, 'downloads refused for non-admins, as Glance does for deactivated images');
    await waitFor(async () => (await api.get(`/v2/images/${doomed}`, { as: ADMIN })).status === 404, 'deleted at delete_at', 15_000);
    // Counted once the transition has finished (a deletion also removes the data): wait for the count, then check no more come.
    await waitFor(async () => (await transitions(server.url, 'delete')) === 1, 'the deletion counted', 5_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await transitions(server.url, 'obsolete'), 1);
    assert.equal(await transitions(server.url, 'delete'), 1);
  });

  it('leaves a protected image due for deletion in place', async () => {
    const kept = await active('kept', { protected: true });
    assert.equal((await api.post(`/v2/images/${kept}/actions/deprecate`, { delete_at: soon(-1) })).status, 200);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await api.get(`/v2/images/${kept}`)).status, 200);
    assert.equal(await transitions(server.url, 'delete'), 1, 'only the earlier one');
  });
});

/** Four images due on two nodes sharing one database: each transition is made, and counted, exactly once. */
async function eachTransitionOnce(nodes: { url: string }[]): Promise<void> {
  const api = new Client(nodes[0].url, ALPHA_MEMBER);
  const ids: string[] = [];
  for (const name of ['a', 'b', 'c', 'd']) {
    const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare' });
    await api.upload(image.id, name);
    ids.push(image.id);
  }
  // Both nodes find them due at their next pass.
  for (const id of ids.slice(0, 2)) await api.post(`/v2/images/${id}/actions/deprecate`, { obsolete_at: soon(-1) });
  for (const id of ids.slice(2)) await api.post(`/v2/images/${id}/actions/deprecate`, { delete_at: soon(-1) });
  await waitFor(async () => {
    const states = await Promise.all(ids.map(async (id) => (await api.get(`/v2/images/${id}`, { as: ADMIN })).json?.status ?? 'gone'));
    return states.join() === 'deactivated,deactivated,gone,gone';
  }, 'every transition made', 15_000);
  await new Promise((r) => setTimeout(r, 1500)); // one more pass each: nothing is done twice
  const counts = async (transition: string) => (await Promise.all(nodes.map((n) => transitions(n.url, transition)))).reduce((a, b) => a + b, 0);
  assert.equal(await counts('obsolete'), 2);
  assert.equal(await counts('delete'), 2);
}

describe('the deprecation schedule with two server processes on one database', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-lifecycle-'));
  let database: TestDatabase | null = null;
  const nodes: ServerProcess[] = [];
  before(async () => {
    database = await createTestDatabase();
    const url = database?.url ?? `sqlite:///${path.join(dir, 'shared.sqlite')}`;
    writeFileSync(path.join(dir, 'glance-api.conf'), '[glimpse]\nlifecycle_interval_seconds = 1\n');
    // One after the other: with SQLite the first creates the embedded database, the second joins it.
    for (let i = 0; i < 2; i++) {
      nodes.push(await serveProcess(['--auth', 'headers', '--data-dir', dir, '--database', url, '--bind', '127.0.0.1:0', '--config', path.join(dir, 'glance-api.conf')]));
    }
  });
  after(async () => {
    await Promise.all(nodes.map((node) => stopProcess(node)));
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes each transition exactly once, whichever node gets to it', () => eachTransitionOnce(nodes));
});

describe('the deprecation schedule with two in-process nodes on one database (their passes overlap in step)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-lifecycle-'));
  let database: TestDatabase | null = null;
  const nodes: TestServer[] = [];
  before(async () => {
    database = await createTestDatabase();
    const url = database?.url ?? `sqlite:///${path.join(dir, 'shared.sqlite')}`;
    for (let i = 0; i < 2; i++) nodes.push(await composeTestServer({ auth: 'headers', database: url, ini: '[glimpse]\nlifecycle_interval_seconds = 1\n' }));
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes each transition exactly once, whichever node gets to it', () => eachTransitionOnce(nodes));
});

describe('lineage', () => {
  const server = suiteServer({ auth: 'headers' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};
  const lineage = (name: string, as = ALPHA_MEMBER) => api.get(`/v2/glimpse/images/${ids[name]}/lineage`, { as });
  const names = (relatives: { id: string; via: string }[]) => relatives.map((r) => `${Object.keys(ids).find((k) => ids[k] === r.id)} via ${r.via}`);

  before(async () => {
    const make = async (name: string, as: typeof ALPHA_MEMBER, extra: Record<string, unknown> = {}) => {
      ids[name] = (await api.post('/v2/images', { name, disk_format: 'raw', container_format: 'bare', ...extra }, { as })).json.id;
    };
    await make('base', ADMIN, { visibility: 'public' });
    await make('snap1', ALPHA_MEMBER, { base_image_ref: ids.base });
    await make('snap2', ALPHA_MEMBER, { glimpse_derived_from: ids.snap1 });
    await make('beta-snap', BETA_MEMBER, { base_image_ref: ids.base });
    await make('beta-private', BETA_MEMBER);
    await make('orphan', ALPHA_MEMBER, { base_image_ref: ids['beta-private'] });
  });

  it('walks ancestors through base_image_ref and glimpse_derived_from, nearest first', async () => {
    const res = await lineage('snap2');
    assert.equal(res.status, 200);
    assert.equal(res.json.id, ids.snap2);
    assert.deepEqual(names(res.json.ancestors), ['snap1 via glimpse_derived_from', 'base via base_image_ref']);
    assert.deepEqual(res.json.descendants, []);
    assert.equal(res.json.source_url, null);
  });

  it('lists only the descendants the caller can see', async () => {
    assert.deepEqual(names((await lineage('base')).json.descendants), ['snap1 via base_image_ref', 'snap2 via glimpse_derived_from']);
    assert.deepEqual(names((await lineage('base', BETA_MEMBER)).json.descendants), ['beta-snap via base_image_ref']);
    assert.deepEqual(names((await lineage('base', ADMIN)).json.descendants).sort(), ['beta-snap via base_image_ref', 'snap1 via base_image_ref', 'snap2 via glimpse_derived_from']);
  });

  it('never leaks an image the caller cannot see', async () => {
    assert.equal((await lineage('snap2', BETA_MEMBER)).status, 404);
    const orphan = (await lineage('orphan')).json;
    assert.deepEqual(orphan.ancestors, [], 'the walk stops at an ancestor alpha cannot see, as if there were none');
    assert.doesNotMatch(JSON.stringify(orphan), /beta-private/, 'not even its name');
    assert.deepEqual(names((await lineage('orphan', ADMIN)).json.ancestors), ['beta-private via base_image_ref']);
  });
});

describe('retention policies', () => {
  const server = suiteServer({ auth: 'headers', ini: '[glimpse]\nlifecycle_interval_seconds = 1\n' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};
  const retention = '/v2/glimpse/families/ret/retention';
  const plan = async (as = ALPHA_MEMBER) => (await api.get(retention, { as })).json.next.map((s: { name: string; action: string }) => `${s.action} ${s.name}`).sort();

  before(async () => {
    // Oldest first; r1 protected. (created_at has one-second resolution.)
    for (const name of ['r1', 'r2', 'r3', 'r4']) {
      const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare', glimpse_family: 'ret', protected: name === 'r1' });
      assert.equal((await api.upload(image.id, name)).status, 204);
      ids[name] = image.id;
      await new Promise((r) => setTimeout(r, 1100));
    }
  });

  it('refuses bad policies, and has none until one is set', async () => {
    assert.equal((await api.get(retention)).status, 404);
    for (const body of [{ keep_newest: -1 }, { keep_newest: 0 }, { deprecate_after_days: 1.5 }, { keep: 2 }, [1]]) {
      const res = await api.put(retention, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await api.put(retention, { body: { keep_newest: 2 }, as: ALPHA_READER })).status, 403);
  });

  it('does what its plan says: keep the newest N, delete the long-deprecated, never a protected one', async () => {
    const set = await api.put(retention, { body: { keep_newest: 2 } });
    assert.equal(set.status, 200);
    assert.equal(set.json.keep_newest, 2);
    await waitFor(async () => (await api.get(`/v2/images?glimpse_family=ret`)).json.images.length === 2, 'r1 and r2 deprecated', 15_000);
    const r1 = (await api.get(`/v2/images/${ids.r1}`)).json;
    assert.equal(r1.os_hidden, true);
    assert.equal(r1.glimpse_replacement, ids.r4, 'the newest version replaces them');
    assert.deepEqual(await plan(), [], 'nothing left to do');
    assert.equal((await api.get(retention, { as: BETA_MEMBER })).status, 404, "beta has no policy of its own for this family and never sees alpha's");

    assert.equal((await api.put(retention, { body: { keep_newest: 2, delete_deprecated_after_days: 0 } })).status, 200);
    await waitFor(async () => (await api.get(`/v2/images/${ids.r2}`, { as: ADMIN })).status === 404, 'r2 deleted', 15_000);
    assert.equal((await api.get(`/v2/images/${ids.r1}`)).status, 200, 'protected: kept');
    assert.deepEqual(await plan(), ['keep r1']);
    await waitFor(async () => (await transitions(server.url, 'retention_delete')) === 1, 'the deletion counted', 5_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await transitions(server.url, 'retention_deprecate'), 2);
    assert.equal(await transitions(server.url, 'retention_delete'), 1);

    assert.equal((await api.delete(retention)).status, 204);
    assert.equal((await api.delete(retention)).status, 404);
  });
});

describe('a retention dry run', () => {
  // The schedule's first pass comes a minute after start: here a plan stays a plan.
  const server = suiteServer({ auth: 'headers' });
  const api = server.client(ALPHA_MEMBER);
  const ids: Record<string, string> = {};

  before(async () => {
    for (const name of ['d1', 'd2', 'd3']) {
      const image = await api.createImage({ name, disk_format: 'raw', container_format: 'bare', glimpse_family: 'dry' });
      assert.equal((await api.upload(image.id, name)).status, 204);
      ids[name] = image.id;
      await new Promise((r) => setTimeout(r, 1100));
    }
  });

  it('lists what the next pass would do, with why, and changes nothing', async () => {
    const set = await api.put('/v2/glimpse/families/dry/retention', { body: { keep_newest: 1, deprecate_after_days: 30 } });
    assert.equal(set.status, 200);
    assert.equal(set.json.owner, ALPHA_MEMBER.project);
    assert.deepEqual(
      set.json.next.map((s: { id: string; action: string; reason: string }) => [s.id, s.action, s.reason]),
      [
        [ids.d2, 'deprecate', 'beyond the newest 1'],
        [ids.d1, 'deprecate', 'beyond the newest 1'],
      ],
    );
    assert.deepEqual((await api.get('/v2/glimpse/families/dry/retention')).json.next.length, 2);
    assert.equal((await api.get(`/v2/images?glimpse_family=dry`)).json.images.length, 3, 'nothing deprecated by a dry run');
    const older = await api.put('/v2/glimpse/families/dry/retention', { body: { deprecate_after_days: 0 } });
    assert.deepEqual(older.json.next.map((s: { reason: string }) => s.reason), ['older than 0 days, with a newer version', 'older than 0 days, with a newer version']);
  });
});
