/**
 * Notifications as Glance sends them, received by a real consumer: Debian's
 * python3-oslo.messaging notification listener on the machine's RabbitMQ.
 * A full cycle (create, upload, update, members, download, import, delete,
 * metadefs) must bring every event with Glance's event_type, publisher_id,
 * priority and payload fields; with RabbitMQ unreachable requests stay fast,
 * and the events sent meanwhile arrive once it is back.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client } from '../helpers/client.js';
import { startTestServer, suiteServer } from '../helpers/server.js';
import { REPO_ROOT, requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const RABBIT = 'rabbit://guest:guest@127.0.0.1:5672/';

/** A synchronous probe: skips are decided before the suite runs. */
function rabbitUp(): boolean {
  return spawnSync('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.1/5672'], { timeout: 5000 }).status === 0;
}

const skip =
  requireTool('RabbitMQ on 127.0.0.1:5672', rabbitUp, "the machine's rabbitmq-server") ||
  requireTool('python3-oslo.messaging', () => existsSync('/usr/lib/python3/dist-packages/oslo_messaging'), 'apt-get install python3-oslo.messaging');

interface Received {
  priority: string;
  publisher_id: string;
  event_type: string;
  payload: any;
  metadata: { message_id: string; timestamp: string };
}

/** The oslo.messaging listener as a child process, collecting what it prints. */
async function listen(topic: string, url = RABBIT): Promise<{ events: Received[]; stop(): void }> {
  const child: ChildProcess = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'test', 'helpers', 'oslo-listener.py'), url, topic], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Received[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the listener exited (${code}): ${stderr}`)));
    child.stdout!.on('data', (d) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'READY') resolve();
        else if (line.startsWith('{')) events.push(JSON.parse(line) as Received);
      }
    });
  });
  return { events, stop: () => child.kill('SIGKILL') };
}

const notificationsIni = (topic: string, url = RABBIT) =>
  `[oslo_messaging_notifications]\ndriver = messagingv2\ntransport_url = ${url}\ntopics = ${topic}\n`;

describe('notifications to an oslo.messaging listener', { skip }, () => {
  const topic = `glimpse-test-${randomUUID().slice(0, 8)}`;
  let listener: Awaited<ReturnType<typeof listen>>;
  const server = suiteServer({ socket: true, auth: 'headers', ini: notificationsIni(topic) });

  before(async () => {
    listener = await listen(topic);
  });
  after(async () => {
    listener?.stop();
  });

  const ofType = (type: string) => listener.events.filter((e) => e.event_type === type);
  const arrived = (types: string[]) => waitFor(async () => types.every((t) => ofType(t).length > 0), `events ${types.filter((t) => ofType(t).length === 0).join(', ')}`, 20_000);

  it('delivers every event of an image\'s life with Glance\'s names and payloads', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const admin = new Client(server.url, ADMIN);
    const bytes = randomBytes(200_000);
    const image = await api.createImage({ name: 'notified', disk_format: 'raw', container_format: 'bare', visibility: 'shared', os_distro: 'debian' });
    assert.equal((await api.upload(image.id, bytes)).status, 204);
    await api.patch(`/v2/images/${image.id}`, [{ op: 'add', path: '/hw_disk_bus', value: 'virtio' }]);
    await api.post(`/v2/images/${image.id}/members`, { member: 'beta' });
    await api.put(`/v2/images/${image.id}/members/beta`, { as: BETA_MEMBER, body: { status: 'accepted' } });
    await api.delete(`/v2/images/${image.id}/members/beta`);
    const downloaded = await fetch(`${server.url}/v2/images/${image.id}/file`, { headers: { 'x-identity-status': 'Confirmed', 'x-project-id': 'alpha', 'x-user-id': 'alpha-member', 'x-roles': 'member' } });
    assert.ok(Buffer.from(await downloaded.arrayBuffer()).equals(bytes));

    const imported = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.request('PUT', `/v2/images/${imported.id}/stage`, { raw: randomBytes(50_000), headers: { 'content-type': 'application/octet-stream' } })).status, 204);
    assert.equal((await api.post(`/v2/images/${imported.id}/import`, { method: { name: 'glance-direct' } })).status, 202);
    await waitFor(async () => (await api.get(`/v2/images/${imported.id}`)).json.status === 'active', 'the import');
    assert.equal((await api.delete(`/v2/images/${image.id}`)).status, 204);

    const ns = `OS::Notified::${randomUUID().slice(0, 6)}`;
    assert.equal((await admin.post('/v2/metadefs/namespaces', { namespace: ns, visibility: 'public' })).status, 201);
    await admin.post(`/v2/metadefs/namespaces/${ns}/properties`, { name: 'cores', title: 'Cores', type: 'integer' });
    await admin.post(`/v2/metadefs/namespaces/${ns}/objects`, { name: 'CPU', properties: { sockets: { title: 'Sockets', type: 'integer' } } });
    await admin.post(`/v2/metadefs/namespaces/${ns}/tags/fast`);
    await admin.post(`/v2/metadefs/namespaces/${ns}/resource_types`, { name: 'OS::Glance::Image', prefix: 'hw_' });
    await admin.delete(`/v2/metadefs/namespaces/${ns}`);

    await arrived([
      'image.create', 'image.prepare', 'image.upload', 'image.activate', 'image.update', 'image.send', 'image.delete',
      'image.member.create', 'image.member.update', 'image.member.delete',
      'task.create', 'task.run', 'task.processing', 'task.success',
      'metadef_namespace.create', 'metadef_property.create', 'metadef_object.create', 'metadef_tag.create', 'metadef_resource_type.create', 'metadef_namespace.delete',
    ]);
    for (const e of listener.events) {
      assert.equal(e.publisher_id, 'image.localhost', e.event_type);
      assert.match(e.metadata.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    }
    const mine = (type: string) => ofType(type).filter((e) => e.payload?.id === image.id || e.payload?.image_id === image.id);
    const created = mine('image.create')[0];
    assert.equal(created.priority, 'INFO');
    assert.deepEqual(Object.keys(created.payload).sort(), [
      'checksum', 'container_format', 'created_at', 'deleted', 'deleted_at', 'disk_format', 'id', 'is_public', 'min_disk', 'min_ram', 'name',
      'owner', 'properties', 'protected', 'size', 'status', 'tags', 'updated_at', 'virtual_size', 'visibility',
    ]);
    assert.deepEqual([created.payload.status, created.payload.owner, created.payload.properties.os_distro], ['queued', 'alpha', 'debian']);
    assert.match(created.payload.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const uploaded = mine('image.upload')[0].payload;
    assert.deepEqual([uploaded.size, uploaded.checksum, uploaded.os_glance_importing_to_stores], [bytes.length, createHash('md5').update(bytes).digest('hex'), []]);
    assert.equal(mine('image.activate')[0].payload.status, 'active');
    assert.ok(mine('image.update').some((e) => e.payload.properties.hw_disk_bus === 'virtio'));
    const sent = mine('image.send')[0];
    assert.deepEqual([sent.priority, sent.payload.bytes_sent, sent.payload.owner_id, sent.payload.receiver_tenant_id, sent.payload.receiver_user_id], ['INFO', bytes.length, 'alpha', 'alpha', 'alpha-member']);
    assert.match(sent.payload.destination_ip, /127\.0\.0\.1/);
    const deleted = mine('image.delete')[0].payload;
    assert.deepEqual([deleted.deleted, typeof deleted.deleted_at], [true, 'string']);
    assert.deepEqual(mine('image.member.create')[0].payload.member_id, 'beta');
    assert.equal(mine('image.member.update')[0].payload.status, 'accepted');
    assert.equal(mine('image.member.delete')[0].payload.deleted, true);
    const success = ofType('task.success').find((e) => e.payload.type === 'api_image_import');
    assert.ok(success && success.payload.status === 'success' && success.payload.owner === 'alpha');
    assert.ok(!('input' in success.payload), 'a task\'s input is never sent');
    assert.ok(ofType('image.activate').some((e) => e.payload.id === imported.id), 'the import activates its image');
    assert.equal(ofType('metadef_namespace.create').find((e) => e.payload.namespace === ns)?.payload.visibility, 'public');
    assert.equal(ofType('metadef_property.create').find((e) => e.payload.namespace === ns)?.payload.type, 'integer');
    assert.equal(ofType('metadef_resource_type.create').find((e) => e.payload.namespace === ns)?.payload.prefix, 'hw_');
  });

  it('sends a refused upload as image.upload at ERROR priority, with the reason', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const image = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    assert.equal((await api.upload(image.id, randomBytes(4096))).status, 415);
    await waitFor(async () => ofType('image.upload').some((e) => e.priority === 'ERROR'), 'the error notification');
    const error = ofType('image.upload').find((e) => e.priority === 'ERROR')!;
    assert.equal(typeof error.payload, 'string');
  });
});

describe('notifications of the lifecycle schedule to an oslo.messaging listener', { skip }, () => {
  const topic = `glimpse-test-${randomUUID().slice(0, 8)}`;
  let listener: Awaited<ReturnType<typeof listen>>;
  const server = suiteServer({ socket: true, auth: 'headers', ini: `${notificationsIni(topic)}[glimpse]\nlifecycle_interval_seconds = 1\n` });
  before(async () => {
    listener = await listen(topic);
  });
  after(() => listener?.stop());
  const of = (type: string, id: string) => listener.events.filter((e) => e.event_type === type && e.payload?.id === id);

  it('sends one event per transition: deprecation, the scheduled deactivation and deletion, and a retention deprecation', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const family = `notified-${randomUUID().slice(0, 6)}`;
    const old = await api.createImage({ name: 'v1', disk_format: 'raw', container_format: 'bare', glimpse_family: family });
    assert.equal((await api.upload(old.id, randomBytes(4096))).status, 204);
    const soon = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.equal((await api.post(`/v2/images/${old.id}/actions/deprecate`, { obsolete_at: soon(1000), delete_at: soon(4000) })).status, 200);
    await waitFor(async () => of('image.delete', old.id).length > 0, 'the scheduled deletion', 20_000);
    const updates = of('image.update', old.id).map((e) => e.payload);
    const deprecation = updates.find((p) => p.properties.glimpse_deprecated_at);
    assert.ok(deprecation, 'the deprecation is an image.update');
    assert.equal(updates.filter((p) => p.status === 'deactivated').length, 1, 'one deactivation, at obsolete_at');
    assert.equal(of('image.delete', old.id).length, 1, 'one deletion, at delete_at');

    const first = await api.createImage({ name: 'v2', disk_format: 'raw', container_format: 'bare', glimpse_family: family });
    await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution
    const newest = await api.createImage({ name: 'v3', disk_format: 'raw', container_format: 'bare', glimpse_family: family });
    for (const image of [first, newest]) assert.equal((await api.upload(image.id, randomBytes(4096))).status, 204);
    assert.equal((await api.put(`/v2/glimpse/families/${family}/retention`, { body: { keep_newest: 1 } })).status, 200);
    await waitFor(async () => of('image.update', first.id).some((e) => e.payload.properties.glimpse_replacement === newest.id), 'the retention deprecation', 20_000);
    await new Promise((r) => setTimeout(r, 2500)); // two more passes: nothing is sent twice
    assert.equal(of('image.update', first.id).filter((e) => e.payload.properties.glimpse_deprecated_at).length, 1);
    assert.equal(of('image.update', newest.id).filter((e) => e.payload.properties.glimpse_deprecated_at).length, 0, 'the newest is kept');
  });
});

describe('notifications while RabbitMQ is away', { skip }, () => {
  it('keeps requests fast while the broker is unreachable, and delivers the events once it is back', async () => {
    // A proxy in front of RabbitMQ that can be cut and restored.
    let sockets: net.Socket[] = [];
    let open = false;
    const proxy = net.createServer((client) => {
      if (!open) return client.destroy();
      const upstream = net.connect(5672, '127.0.0.1');
      sockets.push(client, upstream);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    const topic = `glimpse-away-${randomUUID().slice(0, 8)}`;
    const listener = await listen(topic);
    const server = await startTestServer({ ini: notificationsIni(topic, `rabbit://guest:guest@127.0.0.1:${port}/`) });
    try {
      const api = new Client(server.url);
      const started = Date.now();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await api.createImage({ name: `while-away-${i}` })).id);
      assert.ok(Date.now() - started < 3000, `five creates took ${Date.now() - started} ms with the broker away`);
      assert.equal(listener.events.length, 0);
      open = true;
      await waitFor(async () => ids.every((id) => listener.events.some((e) => e.event_type === 'image.create' && e.payload.id === id)), 'the events sent while away', 40_000);
      // Cut again mid-stream: the connection drops, and publishing resumes once more.
      open = false;
      for (const s of sockets) s.destroy();
      sockets = [];
      const later = (await api.createImage({ name: 'after-the-cut' })).id;
      open = true;
      await waitFor(async () => listener.events.some((e) => e.event_type === 'image.create' && e.payload.id === later), 'an event after a dropped connection', 40_000);
    } finally {
      listener.stop();
      await server.close();
      proxy.close();
    }
  });
});
