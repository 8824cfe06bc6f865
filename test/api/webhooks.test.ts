/**
 * Webhooks against a local receiver: CloudEvents signed with HMAC-SHA256,
 * event filters, retries with backoff until the receiver accepts, SSRF
 * refusal of an internal address, deliveries that survive a restart (the
 * outbox table), and the admin's delivery log.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type TestDatabase, TEST_DIALECT, createTestDatabase } from '../helpers/databases.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/upload.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver whose answers the test decides: `failures` 500s first, then 204. */
async function receiver(failures = 0) {
  const received: Received[] = [];
  let failed = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (failed < failures) {
        failed++;
        return void res.writeHead(500).end();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { received, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

const SECRET = 's3cret';
const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

function ini(subscriptions: Record<string, { url: string; events?: string }>, ports: number[]): string {
  return [
    '[glimpse_webhooks]',
    `subscriptions = ${Object.keys(subscriptions).join(', ')}`,
    'retry_seconds = 0.2',
    'max_attempts = 4',
    ...Object.entries(subscriptions).flatMap(([name, s]) => [`[glimpse_webhook_${name}]`, `url = ${s.url}`, `secret = ${SECRET}`, ...(s.events ? [`events = ${s.events}`] : [])]),
    '[import_filtering_opts]',
    'allowed_hosts = 127.0.0.1',
    `allowed_ports = ${ports.join(',')}`,
    '',
  ].join('\n');
}

describe('webhooks', () => {
  let flaky: Awaited<ReturnType<typeof receiver>>;
  let images: Awaited<ReturnType<typeof receiver>>;
  let server: TestServer;

  before(async () => {
    flaky = await receiver(2);
    images = await receiver();
    server = await startTestServer({
      auth: 'headers',
      ini: ini(
        {
          flaky: { url: `http://127.0.0.1:${flaky.port}/hook`, events: 'image.delete' },
          images: { url: `http://127.0.0.1:${images.port}/hook`, events: 'image.*' },
          metadata: { url: 'http://169.254.169.254/latest/meta-data', events: 'image.create' },
        },
        [flaky.port, images.port],
      ),
    });
  });
  after(async () => {
    await server?.close();
    flaky?.close();
    images?.close();
  });

  it('delivers signed CloudEvents for the subscribed events only', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const image = await api.createImage({ name: 'hooked' });
    await api.patch(`/v2/images/${image.id}`, [{ op: 'replace', path: '/name', value: 'hooked-2' }]);
    await waitFor(async () => images.received.length >= 2, 'two deliveries');
    const events = images.received.map((r) => ({ ...r, event: JSON.parse(r.body) as Record<string, any> }));
    assert.deepEqual(events.map((e) => e.event.type), ['image.create', 'image.update']);
    for (const e of events) {
      assert.equal(e.headers['x-glimpse-signature'], sign(e.body), 'HMAC-SHA256 of the body with the secret');
      assert.match(String(e.headers['content-type']), /^application\/cloudevents\+json/);
      assert.equal(e.event.specversion, '1.0');
      assert.equal(e.event.source, '/glimpse/image.localhost');
      assert.match(e.event.id, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(e.event.time)));
      assert.equal(e.event.data.id, image.id);
    }
    assert.equal(events[1].event.data.name, 'hooked-2');
    assert.equal(flaky.received.length, 0, 'image.delete only');
  });

  it('retries a failing receiver with backoff until it accepts, and logs each delivery for admins', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const image = await api.createImage({ name: 'to-delete' });
    await api.delete(`/v2/images/${image.id}`);
    // The receiver sees the third request before the outbox records its answer: wait for the record.
    const flakyEntry = async () => {
      const log = await new Client(server.url, ADMIN).get('/v2/glimpse/webhooks/deliveries');
      assert.equal(log.status, 200);
      return log.json.deliveries.find((d: { subscription: string }) => d.subscription === 'flaky');
    };
    await waitFor(async () => ['delivered', 'given up'].includes((await flakyEntry())?.state), 'two failures, then the delivery', 15_000);
    assert.equal(flaky.received.length, 3);
    assert.ok(flaky.received.every((r) => r.body === flaky.received[0].body), 'the same event each time');
    const entry = await flakyEntry();
    assert.deepEqual([entry.state, entry.attempts, entry.last_status, entry.event_type], ['delivered', 3, 204, 'image.delete']);
    assert.ok(!('body' in entry));
    assert.equal((await api.get('/v2/glimpse/webhooks/deliveries')).status, 403);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^glimpse_webhook_backlog \d+$/m, 'the backlog is a metric');
  });

  it('never calls an internal address it was not allowed to', async () => {
    await waitFor(async () => {
      const log = (await new Client(server.url, ADMIN).get('/v2/glimpse/webhooks/deliveries')).json.deliveries as { subscription: string; last_error: string | null }[];
      // Refused by [import_filtering_opts] before any connection: the host is not allowed (nor its port), as for web-download.
      return log.some((d) => d.subscription === 'metadata' && /is not allowed|internal address/.test(d.last_error ?? ''));
    }, 'the refused delivery in the log');
  });
});

describe('webhook deliveries across a restart', () => {
  let database: TestDatabase | null = null;
  after(async () => database?.drop());

  it('delivers events recorded while the receiver was down, from the next server on the same database', async () => {
    database = await createTestDatabase(TEST_DIALECT);
    const hook = await receiver();
    const port = hook.port;
    hook.close(); // down: deliveries fail and wait in the outbox
    const url = `http://127.0.0.1:${port}/hook`;
    const first = await startTestServer({ ...(database ? { database: database.url } : {}), ini: ini({ later: { url } }, [port]).replace('retry_seconds = 0.2', 'retry_seconds = 0.5') });
    const dataDir = first.dataDir;
    const image = await new Client(first.url).createImage({ name: `survivor-${randomUUID().slice(0, 6)}` });
    await new Promise((r) => setTimeout(r, 300));
    const sqlite = database ? null : `sqlite:///${dataDir}/glimpse.sqlite`;
    await first.server.close(); // the server stops; its database (and outbox) stays
    const back = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(body);
        res.writeHead(200).end();
      });
    });
    const received: string[] = [];
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
    const second = await startTestServer({ database: database?.url ?? sqlite!, ini: ini({ later: { url } }, [port]) });
    try {
      await waitFor(async () => received.some((b) => JSON.parse(b).data.id === image.id), 'the delivery after the restart', 15_000);
    } finally {
      await second.close();
      back.close();
    }
  });
});
