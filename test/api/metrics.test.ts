/**
 * `GET /metrics`: Prometheus text that Prometheus's own Python parser reads,
 * with counters that move as requests, uploads, downloads and refusals
 * happen; served to loopback clients only by default, to no one when off.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { TEST_DIALECT } from '../helpers/databases.js';
import { startTestServer, suiteServer } from '../helpers/server.js';
import { requireTool } from '../helpers/tools.js';

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({'name': s.name, 'labels': s.labels, 'value': s.value})
print(json.dumps(samples))
`;

const skip = requireTool('python3-prometheus-client', () => spawnSync('/usr/bin/python3', ['-c', 'import prometheus_client']).status === 0, 'apt-get install python3-prometheus-client');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The scrape, parsed by prometheus_client (a failure to parse fails the test). */
async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const parsed = spawnSync('/usr/bin/python3', ['-c', PARSE], { input: await res.text(), encoding: 'utf8' });
  assert.equal(parsed.status, 0, parsed.stderr);
  return JSON.parse(parsed.stdout) as Sample[];
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

describe('metrics', { skip }, () => {
  const server = suiteServer({ socket: true, bind: '0.0.0.0:0', insecure: true });

  it('counts requests by route template, bytes in and out, and refused uploads', async () => {
    const api = new Client(server.url);
    const before = await scrape(server.url);
    const bytes = randomBytes(123_456);
    const image = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(image.id, bytes)).status, 204);
    assert.equal((await fetch(`${server.url}/v2/images/${image.id}/file`).then((r) => r.arrayBuffer())).byteLength, bytes.length);
    const refused = await api.createImage({ disk_format: 'qcow2', container_format: 'bare' });
    assert.equal((await api.upload(refused.id, randomBytes(1000))).status, 415);
    const empty = await api.createImage({ disk_format: 'raw', container_format: 'bare' });
    assert.equal((await api.upload(empty.id, Buffer.alloc(0))).status, 204, 'an empty upload is no refusal: the image stays queued');
    assert.equal((await api.get('/v2/images/00000000-0000-4000-8000-000000000000')).status, 404);

    const after = await scrape(server.url);
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    assert.equal(delta('glimpse_http_requests_total', { method: 'POST', route: '/v2/images', status: '201' }), 3);
    assert.equal(delta('glimpse_http_requests_total', { method: 'GET', route: '/v2/images/:id', status: '404' }), 1);
    assert.ok(!after.some((s) => s.labels.route?.includes(image.id)), 'no series per image id');
    assert.equal(delta('glimpse_http_request_duration_seconds_count', { method: 'PUT', route: '/v2/images/:id/file' }), 3);
    assert.equal(delta('glimpse_image_bytes_uploaded_total'), bytes.length);
    assert.equal(delta('glimpse_image_bytes_downloaded_total'), bytes.length);
    assert.equal(delta('glimpse_upload_refusals_total', { reason: 'format_mismatch' }), 1, 'counted by the inspector\'s check');
    assert.equal(delta('glimpse_upload_refusals_total', { reason: 'empty' }), 0);
    assert.equal(delta('glimpse_image_bytes_uploaded_total'), bytes.length, 'nothing counted for the empty one');
    assert.equal(value(after, 'glimpse_uploads_in_flight'), 0);
    assert.ok(value(after, 'glimpse_process_resident_memory_bytes') > 0);
    if (TEST_DIALECT !== 'sqlite') {
      assert.ok(value(after, 'glimpse_db_pool_connections_open') >= 1, 'the pool has connections open');
      assert.ok(delta('glimpse_db_pool_wait_seconds_count') >= 5, 'every query waited for (or took at once) a pooled connection');
    }
    assert.equal(value(after, 'glimpse_db_pool_waiting'), 0);
  });

  it('answers only loopback clients by default', async (t) => {
    const address = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!address) return t.skip('no non-loopback address on this machine');
    const port = new URL(server.url).port;
    assert.equal((await fetch(`http://${address}:${port}/metrics`)).status, 404);
    assert.equal((await fetch(`http://${address}:${port}/versions`)).status, 200, 'the API itself answers there');
  });

  it('is off when [glimpse] metrics = off', async () => {
    const off = await startTestServer({ ini: '[glimpse]\nmetrics = off\n' });
    try {
      assert.equal((await fetch(`${off.url}/metrics`)).status, 404);
    } finally {
      await off.close();
    }
  });
});
