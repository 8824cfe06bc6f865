/**
 * A bounded, seeded fuzzer over every endpoint, on every database: odd ids
 * and paths, malformed JSON and patches, odd keys, NUL, invalid and 4-byte
 * UTF-8, huge numbers, deep nesting, many filters. For every request: no
 * 5xx, a Glance-shaped error body, and — when refused — nothing written. The
 * server must still answer at the end. GLIMPSE_FUZZ_REQUESTS (default 300)
 * and GLIMPSE_FUZZ_SEED choose the run; a failure prints the seed and the
 * request, so it can be replayed.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client, type Identity, rawRequest } from '../helpers/client.js';
import { TEST_DIALECT } from '../helpers/databases.js';
import { suiteServer } from '../helpers/server.js';

const REQUESTS = Number(process.env.GLIMPSE_FUZZ_REQUESTS ?? 300);
const SEED = Number(process.env.GLIMPSE_FUZZ_SEED ?? 20261205);

/** mulberry32: small, seeded, good enough to pick test cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, pick };
}

const ODD_STRINGS = [
  '', ' ', 'a', 'A'.repeat(300), 'x'.repeat(70_000), '\u0000', 'a\u0000b', '\ud83d\ude00', '\ud800', '\udfff', 'é', '名前',
  '../../etc/passwd', '%00', '%ff', '__proto__', 'constructor', 'toString', 'in:a,b', 'eq:"x', '<script>', "'; DROP TABLE images; --",
  '\u0001', '\t\n', '1e23', '-1', '99999999999999999999999', 'null', 'true',
];
const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e23, -1e308, 2 ** 53 + 1, [], {}, [1, 'a'], { a: { b: { c: 1 } } }, ...ODD_STRINGS];
const ODD_IDS = ['%00', 'a%00b', '%F0%9F%98%80', '%ff', '..%2F..', 'x'.repeat(3000), '%2e%2e', '00000000-0000-0000-0000-000000000000', 'null', '%E5%90%8D'];
const KEYS = ['name', 'visibility', 'protected', 'os_hidden', 'min_ram', 'min_disk', 'tags', 'disk_format', 'container_format', 'id', 'owner', 'status', 'size', 'locations', 'os_glance_x', 'custom', ...ODD_STRINGS];

type Case = { method: string; path: string; body: Buffer | null; headers: Record<string, string>; as: Identity };

function enc(s: string): string {
  // Some strings go as they are (already-encoded or deliberately broken), the rest encoded.
  if (/^%|%[0-9A-Fa-f]{2}/.test(s)) return s;
  return [...Buffer.from(s)].map((b) => (/[\w.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
}

function jsonText(r: ReturnType<typeof prng>, value: unknown): Buffer {
  const kind = r.next();
  if (kind < 0.08) return Buffer.from('{"name": "unterminated');
  if (kind < 0.14) return Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
  if (kind < 0.18) return Buffer.from(`${'['.repeat(3000)}${']'.repeat(3000)}`);
  if (kind < 0.22) return Buffer.from('{"name":"a\\u0000"}');
  if (kind < 0.26) return Buffer.from('{"name":"\\ud800x"}');
  return Buffer.from(JSON.stringify(value));
}

function randomObject(r: ReturnType<typeof prng>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(r.next() * 5);
  for (let i = 0; i < n; i++) Object.defineProperty(out, r.pick(KEYS), { value: r.pick(ODD_VALUES), enumerable: true, configurable: true, writable: true });
  return out;
}

function randomPatch(r: ReturnType<typeof prng>): unknown {
  if (r.next() < 0.15) return randomObject(r);
  return Array.from({ length: 1 + Math.floor(r.next() * 3) }, () => {
    const op: Record<string, unknown> = { op: r.pick(['add', 'replace', 'remove', 'move', 'copy', 'test', 'ADD', '']), path: r.pick(['/name', '/tags', '/x', '/a/b', '', '/', '/~1x', `/${r.pick(ODD_STRINGS)}`, '/locations', '/locations/0']) };
    if (r.next() < 0.8) op.value = r.pick(ODD_VALUES);
    return op;
  });
}

function query(r: ReturnType<typeof prng>): string {
  const n = r.next() < 0.1 ? 30 + Math.floor(r.next() * 1000) : Math.floor(r.next() * 5);
  const keys = ['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'member_status', 'visibility', 'os_hidden', 'tag', 'name', 'status', 'size_min', 'size_max', 'created_at', 'protected', 'id', ...ODD_STRINGS];
  return Array.from({ length: n }, () => `${enc(r.pick(keys))}=${enc(String(r.pick(ODD_VALUES)))}`).join('&');
}

function randomCase(r: ReturnType<typeof prng>, realIds: string[]): Case {
  const id = r.next() < 0.5 ? r.pick(realIds) : r.next() < 0.5 ? r.pick(realIds).toUpperCase() : r.pick(ODD_IDS);
  const ns = r.pick(['Fuzz::NS', 'OS::Compute::Libvirt', ...ODD_IDS]);
  const name = enc(r.pick(ODD_STRINGS) || 'x');
  const as = r.pick([ALPHA_MEMBER, BETA_MEMBER, ADMIN]);
  const json = { 'content-type': 'application/json' };
  const templates: (() => Case)[] = [
    () => ({ method: 'POST', path: '/v2/images', body: jsonText(r, randomObject(r)), headers: json, as }),
    () => ({ method: 'GET', path: `/v2/images?${query(r)}`, body: null, headers: {}, as }),
    () => ({ method: 'GET', path: `/v2/images/${id}`, body: null, headers: {}, as }),
    () => ({ method: 'PATCH', path: `/v2/images/${id}`, body: jsonText(r, randomPatch(r)), headers: { 'content-type': r.pick(['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch', 'application/json', 'text/plain']) }, as }),
    () => ({ method: r.pick(['PUT', 'DELETE']), path: `/v2/images/${id}/tags/${name}`, body: null, headers: {}, as }),
    () => ({ method: 'POST', path: `/v2/images/${id}/members`, body: jsonText(r, { member: r.pick(ODD_VALUES) }), headers: json, as }),
    () => ({ method: 'PUT', path: `/v2/images/${id}/members/${name}`, body: jsonText(r, { status: r.pick(['accepted', 'rejected', 'pending', ...ODD_STRINGS]) }), headers: json, as }),
    () => ({ method: 'GET', path: `/v2/images/${id}/file`, body: null, headers: r.next() < 0.5 ? { range: `bytes=${r.pick(['0-', '-1', '5-2', 'x', '0-99999999999999999999', '1-1,2-2'])}` } : { 'content-range': `bytes ${r.pick(['0-1', '0-999999', 'a-b'])}/*` }, as }),
    () => ({ method: 'PUT', path: `/v2/images/${id}/file`, body: Buffer.from(r.pick(ODD_STRINGS)), headers: { 'content-type': r.pick(['application/octet-stream', 'application/json']), 'x-openstack-image-size': r.pick(['1', 'x', '-1', '99999999999999999999']) }, as }),
    () => ({ method: 'POST', path: `/v2/images/${id}/import`, body: jsonText(r, { method: { name: r.pick(['web-download', 'glance-direct', 'copy-image', ...ODD_STRINGS]), uri: r.pick(['http://127.0.0.1/', 'http://[::127.0.0.1]/', 'file:///etc/passwd', ...ODD_STRINGS]) } }), headers: json, as }),
    () => ({ method: 'POST', path: `/v2/images/${id}/actions/${r.pick(['deactivate', 'reactivate', 'x'])}`, body: null, headers: {}, as }),
    () => ({ method: 'DELETE', path: `/v2/images/${id}`, body: null, headers: {}, as: r.pick([BETA_MEMBER, ALPHA_MEMBER]) }),
    () => ({ method: 'POST', path: '/v2/metadefs/namespaces', body: jsonText(r, { namespace: r.pick(ODD_VALUES), ...randomObject(r) }), headers: json, as: ADMIN }),
    () => ({ method: 'GET', path: `/v2/metadefs/namespaces?${query(r)}`, body: null, headers: {}, as }),
    () => ({ method: r.pick(['GET', 'DELETE']), path: `/v2/metadefs/namespaces/${enc(ns)}`, body: null, headers: {}, as }),
    () => ({ method: 'POST', path: `/v2/metadefs/namespaces/${enc(ns)}/${r.pick(['properties', 'objects', 'resource_types'])}`, body: jsonText(r, randomObject(r)), headers: json, as: ADMIN }),
    () => ({ method: 'POST', path: `/v2/metadefs/namespaces/${enc(ns)}/tags/${name}`, body: null, headers: {}, as: ADMIN }),
    () => ({ method: 'POST', path: '/v2/tasks', body: jsonText(r, randomObject(r)), headers: json, as: ADMIN }),
    () => ({ method: r.pick(['GET', 'PUT', 'TRACE', 'PATCH']), path: r.pick(['/%ff', `/v2/${name}`, '/v2/schemas/image', '/v2/info/usage', `/v2.${enc(r.pick(ODD_STRINGS))}/images`, '/..%2f..%2fetc']), body: null, headers: {}, as }),
  ];
  return r.pick(templates)();
}

async function send(url: string, c: Case): Promise<{ status: number; body: string; type: string }> {
  const headers = { accept: 'application/json', ...c.headers, 'x-identity-status': 'Confirmed', 'x-project-id': c.as.project!, 'x-roles': c.as.roles!.join(',') };
  const res = await rawRequest(url, c.method, c.path, c.body, headers);
  return { status: res.status, body: res.body, type: String(res.headers['content-type'] ?? '') };
}

const TABLES = ['images', 'image_properties', 'image_tags', 'image_members', 'image_locations', 'tasks', 'metadef_namespaces', 'metadef_properties', 'metadef_objects', 'metadef_tags', 'metadef_resource_types', 'metadef_namespace_resource_types'];

describe(`fuzzing every endpoint on ${TEST_DIALECT} (seed ${SEED}, ${REQUESTS} requests)`, () => {
  const server = suiteServer({ socket: true, auth: 'headers', ini: '[DEFAULT]\nimage_property_quota = 20\n[import_filtering_opts]\nallowed_ports = 1\n' });
  const ids: string[] = [];

  before(async () => {
    const client = new Client(server.url, ALPHA_MEMBER);
    for (const body of [{ visibility: 'shared' }, { disk_format: 'raw', container_format: 'bare' }, { visibility: 'community', tags: ['t'] }]) ids.push((await client.createImage(body)).id);
    await client.upload(ids[1], Buffer.alloc(2048, 1));
    await client.post('/v2/metadefs/namespaces', { namespace: 'Fuzz::NS' }, { as: ADMIN });
  });

  /** Every row and every row's last change: a refused request must leave this as it was. */
  async function fingerprint(): Promise<string> {
    const k = server.server.db.kysely;
    const parts = [];
    for (const table of TABLES) {
      const row = (await sql<{ n: number; t: string | null }>`SELECT COUNT(*) AS n, MAX(updated_at) AS t FROM ${sql.table(table)}`.execute(k)).rows[0];
      parts.push(`${table}:${row.n}:${row.t}`);
    }
    return parts.join(' ');
  }

  it('answers every request with a 2xx-4xx in Glance\'s shape, and writes nothing when it refuses', async () => {
    const r = prng(SEED);
    for (let i = 0; i < REQUESTS; i++) {
      const c = randomCase(r, ids);
      const before = await fingerprint();
      const res = await send(server.url, c);
      const replay = `request ${i} of seed ${SEED}: ${c.method} ${c.path.slice(0, 200)} ${c.body?.subarray(0, 200).toString() ?? ''}`;
      assert.ok(res.status < 500, `${res.status} for ${replay}\n${res.body.slice(0, 500)}`);
      if (res.status >= 400) {
        assert.match(res.type, /application\/json/, replay);
        const error = JSON.parse(res.body);
        assert.equal(error.code, `${res.status} ${error.title}`, replay);
        assert.equal(typeof error.message, 'string', replay);
        assert.equal(await fingerprint(), before, `refused, yet written: ${replay}`);
      }
    }
    const health = await send(server.url, { method: 'GET', path: '/healthcheck', body: null, headers: {}, as: ADMIN });
    assert.equal(health.status, 200);
    const list = await new Client(server.url, ADMIN).get('/v2/images');
    assert.equal(list.status, 200);
  });
});
