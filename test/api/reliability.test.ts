/**
 * What a hostile or careless client found (issue 16), each pinned on every
 * database: odd ids and keys, bodies and paths no table can hold, limits that
 * must hold under concurrency, data that must never be orphaned.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client, rawRequest as sendRaw } from '../helpers/client.js';
import { TEST_DIALECT } from '../helpers/databases.js';
import { startTestServer, suiteServer, type TestServer } from '../helpers/server.js';
import { sleep, slowUpload, waitFor } from '../helpers/upload.js';

const READY = { disk_format: 'raw', container_format: 'bare' };
const headersOf = (who: typeof ALPHA_MEMBER) => ({ 'x-identity-status': 'Confirmed', 'x-project-id': who.project!, 'x-roles': who.roles!.join(',') });

/** As the suite's clients send: JSON wanted unless a test says otherwise. */
const rawRequest = (url: string, method: string, path: string, body: Buffer | null, headers: Record<string, string> = {}) =>
  sendRaw(url, method, path, body, { accept: 'application/json', ...headers });

function assertGlanceError(res: { status: number; body: string }, status: number) {
  assert.equal(res.status, status, res.body);
  const json = JSON.parse(res.body);
  assert.equal(json.code, `${status} ${json.title}`);
  assert.equal(typeof json.message, 'string');
}

describe(`reliability on ${TEST_DIALECT}`, () => {
  const server = suiteServer({
    socket: true,
    auth: 'headers',
    ini: '[DEFAULT]\nimage_property_quota = 10\nimage_tag_quota = 10\nimage_member_quota = 5\n',
  });
  const api = server.client(ALPHA_MEMBER);

  describe('ids in another case', () => {
    it('never writes a child row under an id the client typed in another case', async () => {
      const image = await api.createImage({ visibility: 'community' });
      const upper = image.id.toUpperCase();
      const tagged = await api.put(`/v2/images/${upper}/tags/x`);
      const patched = await api.patch(`/v2/images/${upper}`, [{ op: 'add', path: '/k', value: 'v' }]);
      // MySQL's collation finds the image either way; PostgreSQL and SQLite compare exactly, then try the lower-case id.
      assert.equal(tagged.status, 204);
      assert.equal(patched.status, 200);
      const rows = await server.server.db.kysely.selectFrom('image_tags').select('image_id').where('value', '=', 'x').execute();
      assert.ok(rows.every((r) => r.image_id === image.id), JSON.stringify(rows));
      const shown = await api.get(`/v2/images/${image.id}`);
      assert.equal(shown.status, 200);
      assert.deepEqual(shown.json.tags, ['x']);
      assert.equal(shown.json.k, 'v');
      for (const [who, query] of [[ADMIN, ''], [BETA_MEMBER, '?visibility=community'], [ALPHA_MEMBER, '']] as const) {
        assert.equal((await api.get(`/v2/images${query}`, { as: who })).status, 200);
      }
      assert.equal((await api.delete(`/v2/images/${upper}`)).status, 204);
      assert.equal((await api.get(`/v2/images/${image.id}`)).status, 404);
    });

    // Only MySQL's case-insensitive keys let such rows exist (elsewhere the foreign key refuses them).
    it('reads an image whose child rows carry its id in another case, as a Glance database on MySQL may hold', { skip: TEST_DIALECT !== 'mysql' }, async () => {
      const image = await api.createImage({ visibility: 'community' });
      const k = server.server.db.kysely;
      const now = new Date().toISOString().slice(0, 19).replace('T', ' ');
      const no = server.server.db.toBool(false);
      await k.insertInto('image_tags').values({ image_id: image.id.toUpperCase(), value: 'legacy', created_at: now, updated_at: now, deleted: no }).execute();
      assert.equal((await api.get(`/v2/images/${image.id}`)).status, 200);
      assert.equal((await api.get('/v2/images', { as: ADMIN })).status, 200);
      assert.equal((await api.get(`/v2/images/${image.id}/file`)).status, 204);
      assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);
    });
  });

  describe('list filters', () => {
    it('refuses more filters than max_list_filters with a 400, and answers up to it', async () => {
      const many = Array.from({ length: 21 }, (_, i) => `p${i}=a`).join('&');
      assertGlanceError(await rawRequest(server.url, 'GET', `/v2/images?${many}`, null, headersOf(ALPHA_MEMBER)), 400);
      const tags = Array.from({ length: 1000 }, (_, i) => `tag=t${i}`).join('&');
      assertGlanceError(await rawRequest(server.url, 'GET', `/v2/images?${tags}`, null, headersOf(ALPHA_MEMBER)), 400);
      const twenty = Array.from({ length: 10 }, (_, i) => `p${i}=a&tag=t${i}`).join('&');
      const res = await api.get(`/v2/images?${twenty}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.images, []);
    });

    it('refuses integers no BIGINT holds', async () => {
      assertGlanceError(await rawRequest(server.url, 'GET', `/v2/images?size_min=${'9'.repeat(23)}`, null, headersOf(ALPHA_MEMBER)), 400);
      assertGlanceError(await rawRequest(server.url, 'GET', '/v2/images?size_min=1e23', null, headersOf(ALPHA_MEMBER)), 400);
    });

    it('answers 503 on the health check while the pool gives no connection, and 200 after', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      // Every connection of the pool taken (SQLite has one; the others are opened with their default of 10).
      const size = TEST_DIALECT === 'sqlite' ? 1 : 10;
      let holding = 0;
      const holders = Array.from({ length: size }, () => server.server.db.kysely.connection().execute(() => (holding++, held)));
      await waitFor(async () => holding === size, 'every connection of the pool taken');
      const busy = await rawRequest(server.url, 'GET', '/healthcheck', null);
      release();
      await Promise.all(holders);
      assert.equal(busy.status, 503, busy.body);
      assert.equal((await rawRequest(server.url, 'GET', '/healthcheck', null)).status, 200);
    });
  });

  describe('concurrency', () => {
    it('adds a member once however many times it is sent at once, and revokes it for good', async () => {
      const image = await api.createImage({ ...READY, visibility: 'shared' });
      const adds = await Promise.all(Array.from({ length: 20 }, () => api.post(`/v2/images/${image.id}/members`, { member: 'beta' })));
      const codes = adds.map((r) => r.status);
      assert.equal(codes.filter((c) => c === 200).length, 1, codes.join(','));
      assert.ok(codes.every((c) => c === 200 || c === 409), codes.join(','));
      const live = await server.server.db.kysely
        .selectFrom('image_members')
        .select('id')
        .where('image_id', '=', image.id)
        .where('member', '=', 'beta')
        .where('deleted', '=', server.server.db.toBool(false))
        .execute();
      assert.equal(live.length, 1);
      assert.equal((await api.delete(`/v2/images/${image.id}/members/beta`)).status, 204);
      assert.equal((await api.get(`/v2/images/${image.id}`, { as: BETA_MEMBER })).status, 404);
    });

    it('holds image_member_quota, image_property_quota and image_tag_quota under concurrent writes', async () => {
      const image = await api.createImage({ visibility: 'shared' });
      await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: `/prop_${i}`, value: 'v' }])),
        ...Array.from({ length: 30 }, (_, i) => api.put(`/v2/images/${image.id}/tags/tag${i}`)),
        ...Array.from({ length: 20 }, (_, i) => api.post(`/v2/images/${image.id}/members`, { member: `project-${i}` })),
      ]);
      const shown = (await api.get(`/v2/images/${image.id}`)).json;
      const props = Object.keys(shown).filter((k) => k.startsWith('prop_'));
      assert.equal(props.length, 10, props.join(','));
      assert.equal(shown.tags.length, 10);
      assert.equal((await api.get(`/v2/images/${image.id}/members`)).json.members.length, 5);
    });

    it('holds the unified limits and user_storage_quota under concurrent creates and uploads', async () => {
      const limited = await startTestServer({
        auth: 'headers',
        ini: '[DEFAULT]\nuser_storage_quota = 100000\n[glimpse_limits]\nimage_count_total = 6\nimage_count_uploading = 2\n',
      });
      try {
        const client = new Client(limited.url, ALPHA_MEMBER);
        const creates = await Promise.all(Array.from({ length: 20 }, () => client.post('/v2/images', READY)));
        assert.equal(creates.filter((r) => r.status === 201).length, 6, creates.map((r) => r.status).join(','));
        assert.ok(creates.every((r) => r.status === 201 || r.status === 413));
        const ids = creates.filter((r) => r.status === 201).map((r) => r.json.id as string);
        const uploads = await Promise.all(ids.map((id) => client.upload(id, Buffer.alloc(40_000, 1))));
        const stored = (await client.get('/v2/images')).json.images.filter((i: { status: string }) => i.status === 'active');
        assert.ok(stored.length <= 2, `${stored.length} images of 40,000 bytes under a 100,000-byte quota (${uploads.map((u) => u.status).join(',')})`);
        assert.ok(uploads.every((u) => [204, 413, 409].includes(u.status)), uploads.map((u) => `${u.status} ${u.text}`).join('\n'));
        const files = readdirSync(path.join(limited.dataDir, 'images'));
        assert.equal(files.length, stored.length, 'no data kept for refused uploads');
      } finally {
        await limited.close();
      }
    });

    it('removes the data of an upload that finishes while its image is deleted', async () => {
      const dir = path.join(server.dataDir, 'images');
      for (let round = 0; round < 10; round++) {
        const image = await api.createImage(READY);
        const [upload, removal] = await Promise.all([api.upload(image.id, Buffer.alloc(50_000, round)), sleep(round % 3).then(() => api.delete(`/v2/images/${image.id}`))]);
        assert.equal(removal.status, 204);
        assert.ok([204, 404, 409, 410].includes(upload.status), `${upload.status} ${upload.text}`);
        assert.equal(existsSync(path.join(dir, image.id)), false, `round ${round}: the data of a deleted image was left behind (upload ${upload.status})`);
      }
    });
  });

  describe('keys named after Object.prototype members', () => {
    it('stores and returns them, and refuses to remove one that is not there', async () => {
      const names = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];
      const image = await api.createImage(Object.fromEntries(names.map((n) => [n, `v-${n}`])));
      const raw = (await api.get(`/v2/images/${image.id}`)).text;
      for (const n of names) assert.ok(raw.includes(`"${n}":"v-${n}"`), `${n} missing from ${raw}`);
      const other = await api.createImage({});
      assert.equal((await api.patch(`/v2/images/${other.id}`, [{ op: 'remove', path: '/constructor' }])).status, 409);
      assert.equal((await api.patch(`/v2/images/${other.id}`, [{ op: 'replace', path: '/toString', value: 'x' }])).status, 409);
      assert.equal((await api.patch(`/v2/images/${other.id}`, [{ op: 'add', path: '/__proto__', value: 'x' }])).status, 200);
      assert.equal((await api.get(`/v2/images/${other.id}`)).json.__proto__, 'x');
    });
  });

  describe('what no table can hold is refused before anything is written', () => {
    const countImages = async () => Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM images`.execute(server.server.db.kysely)).rows[0].n);

    it('NUL, 4-byte characters and lone surrogates in JSON strings and keys', async () => {
      const before = await countImages();
      for (const body of ['{"name":"a\\u0000b"}', '{"name":"\\ud83d\\ude00"}', '{"name":"\\ud800"}', '{"x\\u0000":"y"}', '{"k":"\\udfff"}']) {
        assertGlanceError(await rawRequest(server.url, 'POST', '/v2/images', Buffer.from(body), { ...headersOf(ALPHA_MEMBER), 'content-type': 'application/json' }), 400);
      }
      assert.equal(await countImages(), before);
    });

    it('invalid UTF-8 in a body', async () => {
      const body = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      assertGlanceError(await rawRequest(server.url, 'POST', '/v2/images', body, { ...headersOf(ALPHA_MEMBER), 'content-type': 'application/json' }), 400);
    });

    it('NUL and 4-byte characters in path ids and query values', async () => {
      for (const p of ['/v2/images/%00', '/v2/images/a%00b', '/v2/images/%F0%9F%98%80', '/v2/metadefs/namespaces/%F0%9F%98%80', '/v2/images/%00/members']) {
        assertGlanceError(await rawRequest(server.url, 'GET', p, null, headersOf(ALPHA_MEMBER)), 404);
      }
      assertGlanceError(await rawRequest(server.url, 'GET', '/v2/images?name=%00', null, headersOf(ALPHA_MEMBER)), 400);
      assertGlanceError(await rawRequest(server.url, 'GET', '/v2/images?name=%F0%9F%98%80', null, headersOf(ALPHA_MEMBER)), 400);
      const image = await api.createImage({});
      assertGlanceError(await rawRequest(server.url, 'PUT', `/v2/images/${image.id}/tags/%F0%9F%98%80`, null, headersOf(ALPHA_MEMBER)), 400);
    });

    it('a property value longer than a TEXT column holds', async () => {
      const image = await api.createImage({});
      const res = await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/long', value: 'x'.repeat(70_000) }]);
      assert.equal(res.status, 400, res.text);
      assert.equal((await api.get(`/v2/images/${image.id}`)).json.long, undefined);
      assert.equal((await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/long', value: 'x'.repeat(65_535) }])).status, 200);
    });

    it('metadefs bodies nested 5,000 levels deep, and a lone surrogate in a resource type name', async () => {
      const deep = `{"namespace":"Deep::NS","properties":{"p":${'{"items":'.repeat(5000)}{}${'}'.repeat(5000)}}}`;
      assertGlanceError(await rawRequest(server.url, 'POST', '/v2/metadefs/namespaces', Buffer.from(deep), { ...headersOf(ADMIN), 'content-type': 'application/json' }), 400);
      assert.equal((await api.get('/v2/metadefs/namespaces/Deep::NS', { as: ADMIN })).status, 404);
      await api.post('/v2/metadefs/namespaces', { namespace: 'Surrogate::NS' }, { as: ADMIN });
      const lone = Buffer.from('{"name":"OS::\\ud800::X"}');
      assertGlanceError(await rawRequest(server.url, 'POST', '/v2/metadefs/namespaces/Surrogate::NS/resource_types', lone, { ...headersOf(ADMIN), 'content-type': 'application/json' }), 400);
      assert.equal((await api.get('/v2/metadefs/namespaces/Surrogate::NS/resource_types', { as: ADMIN })).status, 200);
    });

    it('metadefs namespaces with any characters get a Location that is a valid header', async () => {
      for (const name of ['Ünïcødé::名前', 'ctl\u0001name']) {
        const res = await api.post('/v2/metadefs/namespaces', { namespace: name }, { as: ADMIN });
        assert.equal(res.status, 201, res.text);
        assert.equal(decodeURIComponent(new URL(res.headers.get('location')!).pathname.split('/').pop()!), name);
        assert.equal((await api.get(`/v2/metadefs/namespaces/${encodeURIComponent(name)}`, { as: ADMIN })).status, 200);
      }
    });
  });

  describe("error shapes as Glance's", () => {
    it('a path that does not decode, and a very long path parameter, are 404s', async () => {
      assertGlanceError(await rawRequest(server.url, 'GET', '/v2/images/%ff', null, headersOf(ALPHA_MEMBER)), 404);
      assertGlanceError(await rawRequest(server.url, 'GET', `/v2/images/${'a'.repeat(3000)}`, null, headersOf(ALPHA_MEMBER)), 404);
    });

    it('a legacy Content-Range past the end of the image is 416', async () => {
      const image = await api.createImage(READY);
      assert.equal((await api.upload(image.id, Buffer.alloc(1000, 1))).status, 204);
      assertGlanceError(await rawRequest(server.url, 'GET', `/v2/images/${image.id}/file`, null, { ...headersOf(ALPHA_MEMBER), 'content-range': 'bytes 0-1000/*' }), 416);
      const ok = await rawRequest(server.url, 'GET', `/v2/images/${image.id}/file`, null, { ...headersOf(ALPHA_MEMBER), 'content-range': 'bytes 0-999/*' });
      assert.equal(ok.status, 206);
    });
  });

  describe('recovery while serving', () => {
    it('requeues an image left saving with complete data by a writer that died before its status change', async () => {
      const local = await startTestServer({ ini: '[glimpse]\nrecovery_interval_seconds = 1\nwrite_stale_seconds = 2\n' });
      try {
        const client = new Client(local.url);
        const image = await client.createImage(READY);
        assert.equal((await client.upload(image.id, Buffer.alloc(4096, 7))).status, 204);
        // The state a kill -9 between the final rename and the status update leaves: data in place, image saving, no location.
        const db = local.server.db;
        const old = new Date(Date.now() - 10_000);
        await db.kysely.updateTable('images').set({ status: 'saving', updated_at: db.toTime(old) }).where('id', '=', image.id).execute();
        await db.kysely.deleteFrom('image_locations').where('image_id', '=', image.id).execute();
        const file = path.join(local.dataDir, 'images', image.id);
        utimesSync(file, old, old);
        await waitFor(async () => (await client.get(`/v2/images/${image.id}`)).json.status === 'queued', 'the image back to queued', 15_000);
        assert.equal(existsSync(file), false, 'the orphaned data was removed');
        assert.equal((await client.upload(image.id, Buffer.alloc(4096, 8))).status, 204);
        const data = await client.get(`/v2/images/${image.id}/file`);
        assert.equal(data.status, 200);
        assert.equal(readdirSync(path.join(local.dataDir, 'images')).filter((n) => n.startsWith('.')).length, 0);
      } finally {
        await local.close();
      }
    });
  });

  describe('data a dead deleter left', () => {
    it('is removed by the next recovery sweep, unless a live image still points at it', async () => {
      const local = await startTestServer({ ini: '[glimpse]\nrecovery_interval_seconds = 1\n' });
      try {
        const client = new Client(local.url);
        const image = await client.createImage(READY);
        assert.equal((await client.upload(image.id, Buffer.alloc(2048, 3))).status, 204);
        // What a kill -9 between the delete's commit and its data removal leaves.
        const db = local.server.db;
        await db.kysely.updateTable('images').set({ status: 'deleted', deleted: db.toBool(true) }).where('id', '=', image.id).execute();
        await db.kysely.updateTable('image_locations').set({ deleted: db.toBool(true), status: 'deleted' }).where('image_id', '=', image.id).execute();
        const file = path.join(local.dataDir, 'images', image.id);
        assert.ok(existsSync(file));
        await waitFor(async () => !existsSync(file), 'the orphaned data removed', 10_000);
      } finally {
        await local.close();
      }
    });
  });

  it('keeps reading the rest of a body refused mid-stream, so a client still sending can finish it', async () => {
    const local = await startTestServer({ ini: '[DEFAULT]\nimage_size_cap = 100000\n' });
    try {
      const client = new Client(local.url);
      const image = await client.createImage(READY);
      const upload = slowUpload(`${local.url}/v2/images/${image.id}/file`);
      for (let i = 0; i < 3; i++) await upload.write(Buffer.alloc(50_000)).catch(() => undefined);
      assert.equal((await upload.response).status, 413);
      // 32 MiB more than any socket buffer holds: it only goes through if the server reads and drops it.
      const rest = (async () => {
        for (let i = 0; i < 64; i++) await upload.write(Buffer.alloc(512 * 1024));
        return true;
      })();
      assert.equal(await Promise.race([rest, sleep(10_000).then(() => false)]), true, 'the rest of the body was read');
      assert.equal(await upload.finish(), 413);
    } finally {
      await local.close();
    }
  });

  it('stops at once while the client of a refused upload is still connected, without waiting for it to go quiet', async () => {
    const local = await startTestServer({ ini: '[DEFAULT]\nimage_size_cap = 100000\n' });
    const client = new Client(local.url);
    const image = await client.createImage(READY);
    const upload = slowUpload(`${local.url}/v2/images/${image.id}/file`);
    for (let i = 0; i < 3; i++) await upload.write(Buffer.alloc(50_000)).catch(() => undefined);
    assert.equal((await upload.response).status, 413);
    // The client keeps its connection open and sends nothing more: only the 60 s body idle timeout would end it.
    const closed = await Promise.race([local.close().then(() => true), sleep(10_000).then(() => false)]);
    upload.cut();
    assert.equal(closed, true, 'the server closed the answered connection instead of waiting for its client');
  });

  describe('slow and stalled clients', () => {
    let slow: TestServer;
    before(async () => {
      slow = await startTestServer({ ini: '[DEFAULT]\nclient_socket_timeout = 3\n[glimpse]\nbody_idle_timeout = 1\njson_body_timeout = 2\n' });
    });
    after(() => slow.close());

    it('cuts an upload that stops sending, and puts its image back to queued', async () => {
      const client = new Client(slow.url);
      const image = await client.createImage(READY);
      const upload = slowUpload(`${slow.url}/v2/images/${image.id}/file`);
      await upload.write(Buffer.alloc(1));
      await waitFor(async () => (await client.get(`/v2/images/${image.id}`)).json.status === 'saving', 'saving');
      await waitFor(async () => (await client.get(`/v2/images/${image.id}`)).json.status === 'queued', 'queued again', 10_000);
      await assert.rejects(upload.response);
      assert.equal(readdirSync(path.join(slow.dataDir, 'images')).length, 0, 'nothing kept');
    });

    it('closes a connection idle for client_socket_timeout, as Glance does', async () => {
      const u = new URL(slow.url);
      const socket = net.connect(Number(u.port), u.hostname);
      await new Promise((r) => socket.once('connect', r));
      const closed = await Promise.race([new Promise((r) => socket.once('close', () => r(true))), sleep(10_000).then(() => false)]);
      socket.destroy();
      assert.equal(closed, true, 'the idle connection was closed');
    });

    it('cuts a JSON body that drips', async () => {
      const u = new URL(slow.url);
      const socket = net.connect(Number(u.port), u.hostname);
      await new Promise((r) => socket.once('connect', r));
      socket.write('POST /v2/images HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      const drip = setInterval(() => socket.write(' '), 300);
      const closed = await Promise.race([new Promise((r) => socket.once('close', () => r(true))), sleep(8000).then(() => false)]);
      clearInterval(drip);
      socket.destroy();
      assert.equal(closed, true, 'the server closed the dripping connection');
    });
  });

  describe('concurrent uploads', () => {
    // Not the slow server: its 1 s body idle timeout would cut the held uploads whenever the machine is busy.
    let limited: TestServer;
    before(async () => {
      limited = await startTestServer({ ini: '[glimpse]\nmax_concurrent_uploads = 2\n' });
    });
    after(() => limited.close());

    it('refuses uploads beyond max_concurrent_uploads with a 503 the client can read', async () => {
      const client = new Client(limited.url);
      const images = await Promise.all([1, 2, 3].map(() => client.createImage(READY)));
      const held = images.slice(0, 2).map((i) => slowUpload(`${limited.url}/v2/images/${i.id}/file`));
      for (const h of held) await h.write(Buffer.alloc(10));
      await waitFor(async () => (await Promise.all(images.slice(0, 2).map(async (i) => (await client.get(`/v2/images/${i.id}`)).json.status))).every((s) => s === 'saving'), 'two uploads saving');
      const third = await client.upload(images[2].id, Buffer.alloc(2 * 1024 * 1024, 3));
      assert.equal(third.status, 503, third.text);
      assert.equal(third.headers.get('retry-after'), '5');
      assert.equal((await client.get(`/v2/images/${images[2].id}`)).json.status, 'queued');
      for (const h of held) await h.write(Buffer.alloc(10));
      assert.deepEqual(await Promise.all(held.map((h) => h.finish())), [204, 204]);
    });
  });
});
