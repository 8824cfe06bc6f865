/**
 * Image insight on real guests built with debootstrap: uploaded through the
 * API, inspected in the background as a task of the image, the findings
 * kept as glimpse_insight_* properties, the readiness report and its
 * suggested properties, accepting them, the sweep across nodes, the
 * limits, and hostile or empty disks that must do no harm.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, ALPHA_MEMBER, BETA_MEMBER, Client, type Identity } from '../helpers/client.js';
import { type TestDatabase, TEST_DIALECT, createTestDatabase } from '../helpers/databases.js';
import { guestsDir, guestsSkip, uploadFile } from '../helpers/guests.js';
import { type Corpus, corpusSkip, loadCorpus } from '../helpers/samples.js';
import { type ServerProcess, serveProcess, stopProcess } from '../helpers/process.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { swiftSkip, swiftStoreIni } from '../helpers/swift.js';
import { REPO_ROOT } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const skip = guestsSkip() || corpusSkip();
const ENABLED = '[glimpse_insight]\nenabled = true\n';

/** Creates an image, uploads a file, and waits for its inspection task to end. */
async function inspected(server: TestServer, file: string, body: Record<string, unknown> = {}, as: Identity | null = ALPHA_MEMBER) {
  const api = new Client(server.url, as);
  const image = await api.createImage({ name: path.basename(file), disk_format: file.endsWith('.raw') ? 'raw' : 'qcow2', container_format: 'bare', ...body });
  assert.equal(await uploadFile(server.url, image.id, file, as), 204);
  await waitFor(async () => {
    const tasks = (await api.get(`/v2/images/${image.id}/tasks`)).json.tasks as { type: string; status: string }[];
    return tasks.some((t) => t.type === 'glimpse_insight' && (t.status === 'success' || t.status === 'failure'));
  }, `the inspection of ${path.basename(file)}`, 120_000);
  const report = (await api.get(`/v2/glimpse/images/${image.id}/insight`)).json;
  return { id: image.id as string, report, image: (await api.get(`/v2/images/${image.id}`)).json };
}

/** The helper's store writes 1 MB segments, to test segmenting; here one object is enough. */
const wholeObjects = (ini: string) => ini.replace(/swift_store_large_object_size = \d+/, 'swift_store_large_object_size = 5120');

const verdicts = (report: { checks: { id: string; result: string }[] }) => Object.fromEntries(report.checks.map((c) => [c.id, c.result]));

describe('image insight on debootstrap guests', { skip }, () => {
  let guests: string;
  let server: TestServer;

  before(async () => {
    guests = guestsDir();
    server = await startTestServer({ auth: 'headers', ini: ENABLED });
  });
  after(() => server?.close());

  it('finds Debian 12 with cloud-init in the cloud qcow2: every check passes, suggestions name their metadefs', async () => {
    const { id, report, image } = await inspected(server, path.join(guests, 'debian12-cloud.qcow2'));
    assert.equal(report.status, 'inspected');
    assert.deepEqual(
      [report.findings.os_type, report.findings.os_distro, report.findings.os_version, report.findings.architecture],
      ['linux', 'debian', '12', 'x86_64'],
    );
    assert.equal(report.findings.cloud_init, 'enabled');
    assert.equal(report.findings.firmware, 'bios+uefi', 'an EFI system partition with GRUB, and GRUB in the protective MBR');
    assert.equal(report.findings.bootloader, 'grub');
    assert.match(report.findings.partitions, /^gpt: 1 EFI System 64 MiB fat, 2 BIOS Boot 1 MiB, 3 Linux Data \d+ MiB ext$/);
    assert.equal(report.findings.virtio, 'blk,net,scsi');
    assert.match(report.findings.kernel, /-cloud-amd64$/);
    assert.deepEqual(report.summary, { pass: 9, warn: 0, fail: 0 });
    assert.ok(report.checks.every((c: { fix: unknown }) => c.fix === null));
    // The findings are ordinary properties to every client, glance-api included.
    assert.equal(image.glimpse_insight_os_distro, 'debian');
    assert.equal(image.glimpse_insight_ssh_server, 'enabled');
    assert.equal(image.os_distro, undefined, 'nothing is applied unless apply_properties is on');
    const suggested = Object.fromEntries(report.suggested_properties.map((s: { name: string; value: string; namespace: string }) => [s.name, [s.value, s.namespace]]));
    assert.deepEqual(suggested.os_distro, ['debian', 'OS::Glance::CommonImageProperties']);
    assert.deepEqual(suggested.hw_disk_bus, ['virtio', 'OS::Compute::LibvirtImage (disk_bus)']);
    assert.deepEqual(suggested.hw_qemu_guest_agent, ['yes', 'OS::Compute::LibvirtImage (qemu_guest_agent)']);
    assert.equal(suggested.hw_firmware_type, undefined, 'a disk that boots both ways needs no firmware property');
    const task = (await new Client(server.url, ALPHA_MEMBER).get(`/v2/images/${id}/tasks`)).json.tasks[0];
    assert.deepEqual([task.type, task.status], ['glimpse_insight', 'success']);
    assert.match(task.message, /^Inspected in \d+\.\d s\.$/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^glimpse_insight_inspections_total\{result="inspected"\} [1-9]\d*$/m);
    assert.match(metrics, /^glimpse_insight_seconds_count [1-9]\d*$/m);
    assert.match(metrics, /^glimpse_insight_queue \d+$/m);
  });

  it('finds the plain debootstrap disk, raw and qcow2 alike, unready: no cloud-init, no sshd, a pinned MAC address', async () => {
    for (const file of ['debian12-plain.raw', 'debian12-plain.qcow2']) {
      const { report } = await inspected(server, path.join(guests, file));
      assert.equal(report.findings.os_distro, 'debian', file);
      assert.equal(report.findings.cloud_init, 'absent');
      assert.equal(report.findings.firmware, 'bios');
      assert.match(report.findings.partitions, /^mbr: 1 Linux \d+ MiB ext$/);
      assert.equal(report.findings.persistent_mac, '/etc/udev/rules.d/70-persistent-net.rules');
      assert.deepEqual(verdicts(report), {
        operating_system: 'pass', bootloader: 'pass', cloud_init: 'fail', growpart: 'warn', persistent_mac: 'fail',
        ssh_server: 'fail', virtio: 'warn', serial_console: 'warn', guest_agent: 'warn',
      });
      const fix = report.checks.find((c: { id: string }) => c.id === 'cloud_init').fix;
      assert.match(fix, /apt install cloud-init/);
      assert.equal(report.suggested_properties.find((s: { name: string }) => s.name === 'hw_firmware_type').value, 'bios');
    }
  });

  it('finds Windows Server 2022 from its registry, with the virtio-win drivers, cloudbase-init and the guest agent', async () => {
    const { report } = await inspected(server, path.join(guests, 'windows.qcow2'));
    const f = report.findings;
    assert.deepEqual([f.os_type, f.os_distro, f.os_version, f.architecture], ['windows', 'windows', '2022', 'x86_64']);
    assert.deepEqual([f.bootloader, f.virtio, f.cloud_init, f.ssh_server, f.guest_agent], ['windows-boot-manager', 'blk,net', 'enabled', 'installed', 'yes']);
    assert.match(f.partitions, /^mbr: 1 \S+ \d+ MiB ntfs$/);
    assert.equal(verdicts(report).operating_system, 'pass');
    assert.equal(verdicts(report).virtio, 'pass');
    const suggested = Object.fromEntries(report.suggested_properties.map((s: { name: string; value: string }) => [s.name, s.value]));
    assert.deepEqual(
      [suggested.os_type, suggested.os_distro, suggested.os_version, suggested.hw_disk_bus, suggested.hw_vif_model, suggested.hw_qemu_guest_agent],
      ['windows', 'windows', '2022', 'virtio', 'virtio', 'yes'],
    );
  });

  it('accepts suggestions in one call through the ordinary update, keeping what the owner set', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const { id, report } = await inspected(server, path.join(guests, 'debian12-plain.qcow2'), { os_distro: 'debian-custom' });
    const distro = report.suggested_properties.find((s: { name: string }) => s.name === 'os_distro');
    assert.deepEqual([distro.value, distro.current], ['debian', 'debian-custom']);
    assert.equal((await new Client(server.url, BETA_MEMBER).post(`/v2/glimpse/images/${id}/insight/apply`, {})).status, 404, 'another project does not see the image');
    assert.equal((await api.post(`/v2/glimpse/images/${id}/insight/apply`, { properties: ['hw_disk_bus'] })).status, 400, 'not suggested: no virtio driver');
    const applied = await api.post(`/v2/glimpse/images/${id}/insight/apply`, {});
    assert.equal(applied.status, 200);
    const image = (await api.get(`/v2/images/${id}`)).json;
    assert.deepEqual([image.os_type, image.os_version, image.architecture, image.hw_firmware_type], ['linux', '12', 'x86_64', 'bios']);
    assert.equal(image.os_distro, 'debian-custom', 'a value the owner set stays unless named');
    assert.deepEqual(applied.json.suggested_properties.map((s: { name: string }) => s.name), ['os_distro']);
    await api.post(`/v2/glimpse/images/${id}/insight/apply`, { properties: ['os_distro'] });
    assert.equal((await api.get(`/v2/images/${id}`)).json.os_distro, 'debian');
  });

  it('reads nothing from an empty disk, a corrupt file system or XFS, says which, and keeps serving', async () => {
    const empty = await inspected(server, path.join(guests, 'empty.qcow2'));
    assert.equal(empty.report.status, 'unreadable');
    assert.equal(empty.report.findings.partitions, 'no partition table');
    assert.deepEqual(verdicts(empty.report), { operating_system: 'fail' });
    assert.equal(empty.report.findings.cloud_init, undefined, 'nothing claimed absent that could not be looked for');
    const corrupt = await inspected(server, path.join(guests, 'corrupt.qcow2'));
    assert.equal(corrupt.report.status, 'unreadable');
    assert.match(corrupt.report.findings.partitions, /^gpt: 1 Linux Data 64 MiB \(no known file system/);
    const xfs = await inspected(server, path.join(guests, 'xfs.qcow2'));
    assert.equal(xfs.report.status, 'unreadable');
    assert.match(xfs.report.findings.partitions, /^gpt: 1 Linux Data 320 MiB \(xfs \(not readable by 7zz\)/, 'the report names what it could not read');
    assert.match(xfs.report.checks[0].explanation, /xfs \(not readable by 7zz\)/);
    assert.equal((await new Client(server.url, ALPHA_MEMBER).get('/v2/images')).status, 200);
  });

  it('shows the report to whoever may see the image, and re-inspects for those who may change it', async () => {
    const { id } = await inspected(server, path.join(guests, 'empty.qcow2'));
    assert.equal((await new Client(server.url, BETA_MEMBER).get(`/v2/glimpse/images/${id}/insight`)).status, 404);
    assert.equal((await new Client(server.url, ADMIN).get(`/v2/glimpse/images/${id}/insight`)).status, 200);
    assert.equal((await new Client(server.url, BETA_MEMBER).post(`/v2/glimpse/images/${id}/insight`)).status, 404);
    const again = await new Client(server.url, ALPHA_MEMBER).post(`/v2/glimpse/images/${id}/insight`);
    assert.equal(again.status, 202);
    await waitFor(async () => (await new Client(server.url, ALPHA_MEMBER).get(`/v2/images/${id}/tasks`)).json.tasks.filter((t: { status: string }) => t.status === 'success').length === 2, 'the second inspection');
  });

  it('never inspects an image that is not a guest disk, nor one the format inspector refused', async () => {
    const api = new Client(server.url, ALPHA_MEMBER);
    const corpus: Corpus = loadCorpus();
    const iso = await api.createImage({ name: 'installer', disk_format: 'iso', container_format: 'bare' });
    assert.equal(await uploadFile(server.url, iso.id, path.join(corpus.dir, 'iso9660.iso'), ALPHA_MEMBER), 204);
    const report = (await api.get(`/v2/glimpse/images/${iso.id}/insight`)).json;
    assert.equal(report.status, 'not_inspectable');
    assert.equal(report.reason, 'disk_format iso holds no guest disk to read');
    assert.equal((await api.post(`/v2/glimpse/images/${iso.id}/insight`)).status, 400);

    // An empty upload is no upload (204, the image stays queued): every other hostile sample is refused.
    for (const sample of corpus.samples.filter((s) => s.category === 'hostile' && s.size_bytes > 0)) {
      const image = await api.createImage({ name: sample.file, disk_format: sample.declared_disk_format, container_format: 'bare' });
      const status = await uploadFile(server.url, image.id, path.join(corpus.dir, sample.file), ALPHA_MEMBER);
      assert.ok(status >= 400, `${sample.file} refused (${status})`);
      assert.deepEqual((await api.get(`/v2/images/${image.id}/tasks`)).json.tasks, [], `${sample.file}: no inspection`);
    }
  });
});

describe('image insight settings', { skip }, () => {
  let guests: string;
  before(() => {
    guests = guestsDir();
  });

  it('applies suggestions where the owner set none, when apply_properties is on', async () => {
    const server = await startTestServer({ auth: 'headers', ini: `${ENABLED}apply_properties = true\n` });
    try {
      const { image } = await inspected(server, path.join(guests, 'debian12-plain.qcow2'), { os_distro: 'debian-custom' });
      assert.deepEqual([image.os_type, image.os_version, image.architecture, image.hw_firmware_type], ['linux', '12', 'x86_64', 'bios']);
      assert.equal(image.os_distro, 'debian-custom', "the owner's value stays");
    } finally {
      await server.close();
    }
  });

  it('fences the reader: a memory limit it cannot work within fails the task with the reason, and the image stays usable', async () => {
    const server = await startTestServer({ auth: 'headers', ini: `${ENABLED}memory_mib = 8\n` });
    try {
      const { id, report } = await inspected(server, path.join(guests, 'empty.qcow2'));
      assert.equal(report.status, 'failed');
      assert.equal(report.task.status, 'failure');
      assert.match(report.task.message, /^Inspection failed: /);
      assert.equal((await new Client(server.url, ALPHA_MEMBER).get(`/v2/images/${id}`)).json.status, 'active');
    } finally {
      await server.close();
    }
  });

  it('reads an image kept in Swift through a copy in scratch_dir, removed after', { skip: swiftSkip() }, async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'glimpse-insight-scratch-'));
    const server = await startTestServer({ auth: 'headers', ini: `${ENABLED}scratch_dir = ${scratch}\n${wholeObjects(swiftStoreIni(`insight-${randomUUID().slice(0, 8)}`))}` });
    try {
      const { report } = await inspected(server, path.join(guests, 'debian12-plain.qcow2'));
      assert.deepEqual([report.status, report.findings.os_distro, report.findings.persistent_mac], ['inspected', 'debian', '/etc/udev/rules.d/70-persistent-net.rules']);
      assert.deepEqual(readdirSync(scratch), [], 'the downloaded copy and the partitions are gone');
    } finally {
      await server.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('leaves images over max_image_size alone', async () => {
    const server = await startTestServer({ auth: 'headers', ini: `${ENABLED}max_image_size = 64KB\n` });
    try {
      const api = new Client(server.url, ALPHA_MEMBER);
      const image = await api.createImage({ name: 'big', disk_format: 'qcow2', container_format: 'bare' });
      assert.equal(await uploadFile(server.url, image.id, path.join(guests, 'empty.qcow2'), ALPHA_MEMBER), 204);
      const report = (await api.get(`/v2/glimpse/images/${image.id}/insight`)).json;
      assert.deepEqual([report.status, report.reason], ['not_inspectable', 'it is larger than [glimpse_insight] max_image_size']);
      assert.deepEqual((await api.get(`/v2/images/${image.id}/tasks`)).json.tasks, []);
    } finally {
      await server.close();
    }
  });
});

describe('glimpse image insight (no auth)', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ini: ENABLED });
  });
  after(() => server?.close());

  it('prints the checks and the findings, and applies the suggestions', async () => {
    const { id } = await inspected(server, path.join(guestsDir(), 'debian12-plain.qcow2'), { name: 'cli-insight' }, null);
    const glimpse = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'image', 'insight', ...args], { env: { PATH: process.env.PATH, OS_AUTH_TYPE: 'none', OS_ENDPOINT: server.url } })).stdout;
    assert.match(await glimpse('cli-insight'), /\| cloud-init or an equivalent +\| fail +\| No cloud-init: .* \| Install cloud-init/);
    assert.equal(JSON.parse(await glimpse(id, '-f', 'json')).length, 9);
    assert.equal(JSON.parse(await glimpse(id, '--findings', '-f', 'json')).persistent_mac, '/etc/udev/rules.d/70-persistent-net.rules');
    const applied = JSON.parse(await glimpse(id, '--apply', '-f', 'json'));
    assert.equal(applied.os_distro, 'debian');
    assert.equal(applied.suggested_properties, '', 'nothing left to suggest');
    assert.equal((await new Client(server.url).get(`/v2/images/${id}`)).json.os_distro, 'debian');
    assert.equal(JSON.parse(await glimpse(id, '--reinspect', '-f', 'json')).status, 'pending');
  });
});

describe('image insight across nodes', { skip }, () => {
  let database: TestDatabase | null = null;
  after(async () => database?.drop());

  it('a node with insight sweeps up what a node without it took in, and two sweeping server processes inspect each image once', async () => {
    const guests = guestsDir();
    database = await createTestDatabase(TEST_DIALECT);
    const plain = await startTestServer({ auth: 'headers', ...(database ? { database: database.url } : {}) });
    const shared = database ? { database: database.url } : { database: `sqlite:///${plain.dataDir}/glimpse.sqlite` };
    const api = new Client(plain.url, ALPHA_MEMBER);
    const ids: string[] = [];
    for (const file of ['debian12-plain.qcow2', 'empty.qcow2']) {
      const image = await api.createImage({ name: file, disk_format: 'qcow2', container_format: 'bare' });
      assert.equal(await uploadFile(plain.url, image.id, path.join(guests, file), ALPHA_MEMBER), 204);
      ids.push(image.id);
    }
    assert.equal((await api.get(`/v2/glimpse/images/${ids[0]}/insight`)).json.status, 'not_inspected');
    const config = path.join(plain.dataDir, 'sweeper.conf');
    writeFileSync(config, `${ENABLED}sweep_interval_seconds = 1\n[glance_store]\nfilesystem_store_datadir = ${plain.dataDir}/images\n`);
    // Two real `glimpse serve` processes on the same database and store, racing to claim each image.
    const sweepers: ServerProcess[] = [];
    const dataDirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), 'glimpse-sweeper-')));
    for (const dataDir of dataDirs) {
      const args = ['--auth', 'headers', '--data-dir', dataDir, '--database', shared.database, '--bind', '127.0.0.1:0', '--config', config];
      sweepers.push(await serveProcess(args));
    }
    try {
      for (const id of ids) {
        await waitFor(async () => ['inspected', 'unreadable'].includes((await api.get(`/v2/glimpse/images/${id}/insight`)).json.status), 'the sweep', 60_000);
        const tasks = (await api.get(`/v2/images/${id}/tasks`)).json.tasks as { type: string }[];
        assert.equal(tasks.filter((t) => t.type === 'glimpse_insight').length, 1, 'one inspection, whichever node swept first');
      }
      assert.equal((await api.get(`/v2/glimpse/images/${ids[0]}/insight`)).json.findings.os_distro, 'debian');
    } finally {
      await Promise.all(sweepers.map((node) => stopProcess(node)));
      for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
      await plain.close();
    }
  });
});
