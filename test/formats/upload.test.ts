/**
 * The inspector on the real upload path: every corpus sample is uploaded
 * over HTTP as its declared disk_format, as raw and as ami. Refused images
 * get 415 with the reason, go back to queued and leave no byte in the store
 * (an empty body stores nothing either: 204 with a warning, still queued);
 * accepted ones become active with the virtual size the inspector found.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALPHA_MEMBER, Client } from '../helpers/client.js';
import { type Corpus, corpusSkip, loadCorpus } from '../helpers/samples.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { expectedVerdict } from './expectations.js';

describe('uploading the qemu-img corpus', { skip: corpusSkip() }, () => {
  let corpus: Corpus;
  let server: TestServer;
  let api: Client;
  const storeFiles = () => readdirSync(path.join(server.dataDir, 'images'));

  before(async () => {
    corpus = loadCorpus();
    server = await startTestServer({ auth: 'headers' });
    api = new Client(server.url, ALPHA_MEMBER);
  });
  after(() => server?.close());

  const upload = async (file: string, disk_format: string, container_format = 'bare') => {
    const image = await api.createImage({ name: file, disk_format, container_format });
    const res = await api.put(`/v2/images/${image.id}/file`, {
      raw: readFileSync(path.join(corpus.dir, file)),
      headers: { 'content-type': 'application/octet-stream' },
    });
    return { image, res, shown: (await api.get(`/v2/images/${image.id}`)).json };
  };

  it('accepts or refuses each sample as declared, as raw and as ami, and keeps nothing it refuses', async () => {
    let refused = 0;
    for (const s of corpus.samples) {
      for (const format of new Set([s.declared_disk_format, 'raw', 'ami'])) {
        const expected = expectedVerdict(corpus, s.file, format);
        const { image, res, shown } = await upload(s.file, format);
        const what = `${s.file} as ${format}`;
        if (s.size_bytes === 0) {
          // Nothing to refuse: the upload stores nothing, says so, and the image waits for its data.
          assert.equal(res.status, 204, `${what}: ${res.text}`);
          assert.match(res.headers.get('warning') ?? '', /^299 glimpse "The upload was empty/, what);
          assert.equal(shown.status, 'queued', what);
          assert.equal(shown.size, null, what);
          assert.deepEqual(storeFiles().filter((n) => n.includes(image.id)), [], `${what}: nothing stored`);
        } else if (expected.result === 'accepted') {
          assert.equal(res.status, 204, `${what}: ${res.text}`);
          assert.equal(shown.status, 'active', what);
          assert.equal(shown.size, s.size_bytes, what);
          assert.equal(shown.virtual_size, expected.virtual_size ?? null, `${what}: virtual_size`);
        } else {
          refused++;
          assert.equal(res.status, 415, `${what}: ${res.status} ${res.text}`);
          assert.match(res.json.message, /safety checks|does not match|Multiple formats/, what);
          assert.equal(shown.status, 'queued', what);
          assert.equal(shown.size, null, what);
          assert.equal(shown.checksum, null, what);
          assert.deepEqual(storeFiles().filter((n) => n.includes(image.id)), [], `${what}: no data (nor partial data) kept`);
        }
      }
    }
    assert.ok(refused > 50, `only ${refused} refusals`);
  });

  it('refuses a hostile image with a Glance-shaped 415 that says what is wrong', async () => {
    const { res } = await upload('qcow2-backing-etc-passwd.qcow2', 'qcow2');
    assert.equal(res.status, 415);
    assert.equal(res.json.title, 'Unsupported Media Type');
    assert.match(res.json.message, /^Image failed safety checks: backing_file \(Image has a backing file "\/etc\/passwd"\)/);
  });

  it('can upload again once refused, and does not inspect images in other containers', async () => {
    const { image } = await upload('qcow2-v3.qcow2', 'vhd');
    const again = await api.put(`/v2/images/${image.id}/file`, {
      raw: readFileSync(path.join(corpus.dir, 'vhd-dynamic.vhd')),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(again.status, 204);
    const ova = await upload('qcow2-backing.qcow2', 'qcow2', 'ova');
    assert.equal(ova.res.status, 204, 'Glance inspects only bare images');
    assert.equal(ova.shown.virtual_size, null);
  });

  it('reports a size mismatch before the format verdict', async () => {
    const image = await api.createImage({ name: 'short', disk_format: 'qcow2', container_format: 'bare' });
    const res = await api.put(`/v2/images/${image.id}/file`, {
      raw: readFileSync(path.join(corpus.dir, 'qcow2-v3.qcow2')).subarray(0, 256),
      headers: { 'content-type': 'application/octet-stream', 'x-openstack-image-size': '196624' },
    });
    assert.equal(res.status, 400);
    assert.match(res.json.message, /size mismatch/);
  });
});
