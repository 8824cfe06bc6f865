/** `glimpse image …` against a real server: output, exit codes, openstack parity, progress. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KEYSTONE_INI, KEYSTONE_URL, keystoneSkip, projectId } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';
import { OPENSTACK, REPO_ROOT, openstackSkip } from '../helpers/tools.js';
import { waitFor } from '../helpers/upload.js';

const BIN = path.join(REPO_ROOT, 'bin', 'glimpse');

/** Runs a command without blocking this process (the server lives here). */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
    const child = spawn(command, args, { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('glimpse image (no auth)', () => {
  let server: TestServer;
  let env: Record<string, string>;
  const glimpse = async (...args: string[]) => {
    const res = await run(process.execPath, [BIN, 'image', ...args], env);
    assert.equal(res.code, 0, `glimpse image ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await glimpse(...args, '-f', 'json'));

  before(async () => {
    server = await startTestServer();
    env = { OS_AUTH_TYPE: 'none', OS_ENDPOINT: server.url };
  });
  after(() => server.close());

  it('creates with data, shows, lists in every format, updates and deletes', async () => {
    const file = path.join(server.dataDir, 'disk.img');
    const data = randomBytes(2 * 1024 * 1024 + 3);
    writeFileSync(file, data);
    const created = await json('create', '--file', file, '--disk-format', 'raw', '--property', 'os_distro=ubuntu', '--property', 'hw_disk_bus=virtio', '--tag', 'base', '--min-disk', '2', '--private', 'ubuntu-base');
    assert.equal(created.status, 'active');
    assert.equal(created.size, data.length);
    assert.equal(created.visibility, 'private');
    assert.deepEqual(created.properties.os_distro, 'ubuntu');
    assert.deepEqual(created.tags, ['base']);
    await json('create', '--disk-format', 'qcow2', '--container-format', 'bare', 'empty-record');

    const table = await glimpse('list');
    assert.match(table, /\| ID +\| Name +\| Status +\|/);
    assert.match(table, /ubuntu-base/);
    assert.deepEqual((await json('list', '--property', 'os_distro=ubuntu')).map((i: { Name: string }) => i.Name), ['ubuntu-base']);
    assert.deepEqual((await json('list', '--tag', 'base')).map((i: { Name: string }) => i.Name), ['ubuntu-base']);
    assert.deepEqual((await json('list', '--sort', 'name:desc')).map((i: { Name: string }) => i.Name), ['ubuntu-base', 'empty-record']);
    assert.equal((await json('list', '--limit', '1')).length, 1);
    assert.equal((await glimpse('list', '-f', 'value', '-c', 'Name', '--sort', 'name:asc')).trim(), 'empty-record\nubuntu-base');
    const csv = await glimpse('list', '--long', '-f', 'csv', '--name', 'ubuntu-base');
    assert.match(csv, /^"ID","Name","Disk Format","Container Format","Size","Checksum","Status","Visibility","Protected","Project","Tags"\n/);
    assert.match(csv, /"raw","bare",2097155,/, 'numbers unquoted, as cliff\'s default --quote nonnumeric');
    assert.match(await glimpse('show', 'ubuntu-base', '-f', 'shell', '-c', 'name', '-c', 'status'), /^name="ubuntu-base"\nstatus="active"\n$/);
    assert.match(await glimpse('show', 'ubuntu-base', '-f', 'yaml', '-c', 'name'), /^name: ubuntu-base\n$/);

    await glimpse('set', '--name', 'renamed', '--property', 'owner_specified.x=y', '--tag', 'two', '--min-ram', '512', '--protected', 'ubuntu-base');
    let shown = await json('show', 'renamed');
    assert.equal(shown.min_ram, 512);
    assert.equal(shown.protected, true);
    assert.equal(shown.properties['owner_specified.x'], 'y');
    assert.deepEqual([...shown.tags].sort(), ['base', 'two']);
    await glimpse('unset', '--property', 'owner_specified.x', '--tag', 'two', 'renamed');
    await glimpse('tag', 'add', 'renamed', 'three');
    await glimpse('tag', 'remove', 'renamed', 'base');
    shown = await json('show', 'renamed');
    assert.equal('owner_specified.x' in shown.properties, false);
    assert.deepEqual(shown.tags, ['three']);

    await glimpse('deactivate', 'renamed');
    assert.equal((await json('show', 'renamed')).status, 'deactivated');
    await glimpse('reactivate', 'renamed');
    await glimpse('set', '--deactivate', 'renamed');
    await glimpse('set', '--activate', 'renamed');
    assert.equal((await json('show', 'renamed')).status, 'active');

    const saved = path.join(server.dataDir, 'saved.img');
    await glimpse('save', '--file', saved, 'renamed');
    assert.ok(readFileSync(saved).equals(data));
    writeFileSync(saved, data.subarray(0, 1000));
    await glimpse('save', '--resume', '--file', saved, 'renamed');
    assert.ok(readFileSync(saved).equals(data), 'a resumed download completes the partial file');

    const refused = await run(process.execPath, [BIN, 'image', 'delete', 'renamed'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /protected/);
    await glimpse('set', '--unprotected', 'renamed');
    await glimpse('delete', 'renamed', 'empty-record');
    assert.deepEqual(await json('list'), []);
  });

  it('stages and shares, and fails clearly with a non-zero exit code', async () => {
    const file = path.join(server.dataDir, 'stage.img');
    writeFileSync(file, 'staged');
    await json('create', '--disk-format', 'raw', '--container-format', 'bare', 'to-stage');
    await glimpse('stage', '--file', file, 'to-stage');
    assert.equal((await json('show', 'to-stage')).status, 'uploading');
    await glimpse('import', 'to-stage');
    await waitFor(async () => (await json('show', 'to-stage')).status === 'active', 'glimpse image import');
    assert.equal((await json('show', 'to-stage')).size, 'staged'.length);
    const viaImport = await json('create', '--import', '--file', file, 'imported');
    await waitFor(async () => (await json('show', viaImport.id)).status === 'active', 'glimpse image create --import');
    const shared = await json('create', '--shared', 'to-share');
    const member = await json('add', 'project', 'to-share', 'partner');
    assert.equal(member.member_id, 'partner');
    assert.deepEqual(await json('member', 'list', 'to-share'), [{ 'Image ID': shared.id, 'Member ID': 'partner', Status: 'pending' }]);
    await glimpse('remove', 'project', 'to-share', 'partner');
    assert.deepEqual(await json('member', 'list', 'to-share'), []);

    const missing = await run(process.execPath, [BIN, 'image', 'show', 'no-such-image'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No Image found for no-such-image/);
    const bad = await run(process.execPath, [BIN, 'image', 'create', '--disk-format', 'floppy', 'x'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /400: .*disk_format/);
    const noEndpoint = await run(process.execPath, [BIN, 'image', 'list'], { OS_AUTH_TYPE: 'none' });
    assert.equal(noEndpoint.code, 1);
    assert.match(noEndpoint.stderr, /needs --os-endpoint/);
  });

  it('has openstackclient\'s habits: global options first, raw/bare defaults, None in value output, cliff\'s -c', async () => {
    const clean = await run(process.execPath, [BIN, '--os-auth-type', 'none', '--os-endpoint', server.url, 'image', 'create', 'habits', '-f', 'json'], {});
    assert.equal(clean.code, 0, clean.stderr);
    const created = JSON.parse(clean.stdout);
    assert.equal(created.disk_format, 'raw');
    assert.equal(created.container_format, 'bare');
    assert.equal(await glimpse('list', '--long', '--name', 'habits', '-f', 'value', '-c', 'Checksum'), 'None\n');
    assert.equal(await glimpse('show', '-f', 'value', '-c', 'name', '-c', 'id', 'habits'), `${created.id}\nhabits\n`, 'columns in the data\'s order');
    const unknown = await run(process.execPath, [BIN, 'image', 'show', '-c', 'no_such_column', 'habits'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No recognized column names in no_such_column/);

    const version = await run(process.execPath, [BIN, '--version'], {});
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version);
    await glimpse('set', '--project', 'new-owner', 'habits');
    assert.equal((await json('show', 'habits')).owner, 'new-owner');
    const hidden = await json('create', '--hidden', 'hidden-one');
    assert.equal(hidden.properties.os_hidden, true, 'os_hidden among the properties, where openstackclient shows it');
    assert.deepEqual(await json('list', '--name', 'hidden-one'), [], 'hidden images leave default lists');
    await glimpse('set', '--unhidden', hidden.id);
    assert.equal((await json('list', '--name', 'hidden-one')).length, 1);
    await glimpse('delete', 'hidden-one');

    // A create whose upload is refused leaves no stray queued record.
    const notQcow2 = path.join(server.dataDir, 'not-qcow2.img');
    writeFileSync(notQcow2, randomBytes(4096));
    const refused = await run(process.execPath, [BIN, 'image', 'create', '--disk-format', 'qcow2', '--file', notQcow2, 'refused-create'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /415.*the new image record .* was deleted/s);
    assert.deepEqual(await json('list', '--name', 'refused-create'), []);
    await glimpse('delete', 'habits');
  });

  it('checks every download against the image\'s hash, and a resumed one against the image first', async () => {
    const file = path.join(server.dataDir, 'verified.img');
    const data = randomBytes(3 * 1024 * 1024 + 11);
    writeFileSync(file, data);
    const image = await json('create', '--file', file, '--disk-format', 'raw', 'verified');
    const copy = path.join(server.dataDir, 'copy.img');
    await glimpse('save', '--file', copy, image.id);
    assert.ok(readFileSync(copy).equals(data));

    writeFileSync(copy, data.subarray(0, 1024 * 1024));
    await glimpse('save', '--resume', '--file', copy, image.id);
    assert.ok(readFileSync(copy).equals(data), 'a good partial is continued');

    const corrupt = Buffer.from(data.subarray(0, 1024 * 1024));
    corrupt[1000] ^= 0xff;
    writeFileSync(copy, corrupt);
    const piped = path.join(server.dataDir, 'piped.img');
    const stdout = await run('sh', ['-c', `"${process.execPath}" "${BIN}" image save ${image.id} > "${piped}"`], env);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.ok(readFileSync(piped).equals(data), 'save without --file writes the data to standard output');
    const table = await glimpse('list', '--long');
    assert.match(table, new RegExp(`\\| +${data.length} \\|`), 'Size is right-aligned');

    const bad = await run(process.execPath, [BIN, 'image', 'save', '--resume', '--file', copy, image.id], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /does not match the image's sha512 \(os_hash_value\).*without --resume/s);

    writeFileSync(copy, Buffer.concat([data, Buffer.from('extra')]));
    const longer = await run(process.execPath, [BIN, 'image', 'save', '--resume', '--file', copy, image.id], env);
    assert.equal(longer.code, 1);
    assert.match(longer.stderr, /more than image .* it is not part of this image/);
  });

  it('explains what went wrong: unreachable services, missing credentials, refusals before the body was read', async () => {
    // A port nothing listens on: taken from the kernel, then given back.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const refused = await run(process.execPath, [BIN, 'image', 'list'], { OS_AUTH_TYPE: 'none', OS_ENDPOINT: `http://127.0.0.1:${port}` });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`cannot reach the image service at http://127\\.0\\.0\\.1:${port}/v2/images.*connection refused`));
    const keystone = await run(process.execPath, [BIN, 'image', 'list'], { OS_AUTH_URL: `http://127.0.0.1:${port}/v3`, OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'x' });
    assert.match(keystone.stderr, new RegExp(`cannot reach Keystone at http://127\\.0\\.0\\.1:${port}/v3/auth/tokens: connection refused`));
    const nothing = await run(process.execPath, [BIN, 'image', 'list'], {});
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /no credentials: set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME/);
    assert.doesNotMatch(nothing.stderr, /auth-type none/);

    const help = await run(process.execPath, [BIN, 'image', 'list', '--help'], { OS_PASSWORD: 'hunter2-secret', OS_TOKEN: 'gAAAA-token-secret' });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /OS_PASSWORD/);
    assert.doesNotMatch(help.stdout, /hunter2-secret|gAAAA-token-secret/);

    // An upload refused before its body is read: the client still reads the answer (no "fetch failed").
    const big = path.join(server.dataDir, 'big.img');
    writeFileSync(big, Buffer.alloc(24 * 1024 * 1024, 1));
    const active = await json('create', '--file', path.join(server.dataDir, 'verified.img'), '--disk-format', 'raw', 'already-active');
    const again = await run(process.execPath, [BIN, 'image', 'stage', '--file', big, active.id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /409/);
    assert.doesNotMatch(again.stderr, /fetch failed/);
  });

  it('shows an image exactly as openstack image show does', { skip: openstackSkip() }, async () => {
    const file = path.join(server.dataDir, 'parity.img');
    writeFileSync(file, randomBytes(100_000));
    const created = await json('create', '--file', file, '--disk-format', 'ami', '--container-format', 'ami', '--property', 'os_distro=debian', '--property', 'a=b', '--tag', 'x', 'parity');
    const osc = await run(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, 'image', 'show', '-f', 'json', created.id]);
    assert.equal(osc.code, 0, osc.stderr);
    assert.deepEqual(await json('show', created.id), JSON.parse(osc.stdout));
    const oscList = await run(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, 'image', 'list', '-f', 'json']);
    assert.deepEqual(await json('list'), JSON.parse(oscList.stdout));
    // Every other format, character for character: YAML's quoted timestamps and
    // sorted keys, value and shell's Python-printed lists and properties.
    const same = async (...args: string[]) => {
      const osc = await run(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, 'image', ...args]);
      assert.equal(osc.code, 0, osc.stderr);
      assert.equal(await glimpse(...args), osc.stdout, args.join(' '));
    };
    for (const format of ['yaml', 'value', 'shell', 'table']) await same('show', '-f', format, created.id);
    // A queued image's missing size and checksum (None), and an empty list (an empty line, no table).
    await json('create', '--disk-format', 'raw', 'parity-queued');
    for (const format of ['yaml', 'value', 'table']) await same('list', '--long', '-f', format);
    await same('list', '--name', 'no-such-image');
    await same('member', 'list', created.id);
    await glimpse('delete', 'parity-queued');
  });

  it('puts images in a family, resolves the family, and deprecates and undeprecates by name', async () => {
    const file = path.join(server.dataDir, 'family.img');
    writeFileSync(file, randomBytes(4096));
    const first = await json('create', '--file', file, '--family', 'fam-cli', 'fam-cli-1');
    assert.equal(first.properties.glimpse_family, 'fam-cli');
    await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution
    const second = await json('create', '--file', file, '--family', 'fam-cli', 'fam-cli-2');
    assert.equal((await json('show', '--family', 'fam-cli')).id, second.id);
    const deprecated = await json('deprecate', '--replacement', 'fam-cli-1', '--obsolete-at', '2027-01-31T00:00:00Z', 'fam-cli-2');
    assert.equal(deprecated.properties.glimpse_replacement, first.id);
    assert.equal(deprecated.properties.os_hidden, true);
    assert.equal((await json('show', '--family', 'fam-cli')).id, first.id, 'the resolver skips the deprecated one');
    assert.equal((await json('undeprecate', 'fam-cli-2')).properties.os_hidden, false, 'found by name though hidden');
    assert.equal((await json('show', '--family', 'fam-cli')).id, second.id);
    await glimpse('delete', 'fam-cli-1', 'fam-cli-2');
  });

  it('shows a family and its retention dry run, and draws an image\'s lineage', async () => {
    const file = path.join(server.dataDir, 'lineage.img');
    writeFileSync(file, randomBytes(4096));
    const base = await json('create', '--file', file, '--family', 'fam-ret', 'fam-ret-1');
    await new Promise((r) => setTimeout(r, 1100)); // created_at has one-second resolution
    const newer = await json('create', '--file', file, '--family', 'fam-ret', '--property', `glimpse_derived_from=${base.id}`, 'fam-ret-2');
    const snapshot = await json('create', '--file', file, '--property', `base_image_ref=${newer.id}`, 'fam-ret-snap');

    const familyCli = async (...args: string[]) => {
      const res = await run(process.execPath, [BIN, 'family', ...args], env);
      assert.equal(res.code, 0, `glimpse family ${args.join(' ')}: ${res.stderr}`);
      return res.stdout;
    };
    const versions = JSON.parse(await familyCli('show', 'fam-ret', '-f', 'json'));
    assert.deepEqual(versions.map((v: { ID: string; Role: string }) => [v.ID, v.Role]), [[newer.id, 'latest'], [base.id, '']]);

    const policy = JSON.parse(await familyCli('retention', 'set', '--keep-newest', '1', 'fam-ret', '-f', 'json'));
    assert.equal(policy.keep_newest, 1);
    assert.equal(policy.deprecate_after_days, null);
    assert.match(policy.next, new RegExp(`^deprecate ${base.id} \\(fam-ret-1\\): beyond the newest 1`));
    assert.equal(JSON.parse(await familyCli('retention', 'show', 'fam-ret', '-f', 'json')).keep_newest, 1);
    const refused = await run(process.execPath, [BIN, 'family', 'retention', 'set', '--keep-newest', '0', 'fam-ret'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /keep_newest must keep at least one version/);
    await familyCli('retention', 'delete', 'fam-ret');
    const gone = await run(process.execPath, [BIN, 'family', 'retention', 'show', 'fam-ret'], env);
    assert.equal(gone.code, 1, 'no policy left');

    const rows = JSON.parse(await glimpse('lineage', 'fam-ret-2', '-f', 'json'));
    assert.deepEqual(
      rows.map((r: { Relation: string; ID: string; Via: string }) => [r.Relation, r.ID, r.Via]),
      [['ancestor', base.id, 'glimpse_derived_from'], ['image', newer.id, ''], ['descendant', snapshot.id, 'base_image_ref']],
    );
    assert.match(await glimpse('lineage', 'fam-ret-snap'), /\| Relation +\| ID +\| Name +\| Status +\| Created At +\| Via +\|/);
    await glimpse('delete', 'fam-ret-snap', 'fam-ret-2', 'fam-ret-1');
  });

  it('writes csv exactly as openstack image list does, in every --quote mode', { skip: openstackSkip() }, async () => {
    // A name and tags that need quoting or escaping, a number and a boolean column (--long).
    const created = await json('create', '--disk-format', 'raw', '--tag', "it's", '--tag', 'plain', 'a,b "c"');
    for (const quote of ['nonnumeric', 'all', 'minimal', 'none']) {
      const args = ['list', '--long', '--name', 'a,b "c"', '-f', 'csv', '--quote', quote];
      const osc = await run(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', server.url, 'image', ...args]);
      assert.equal(osc.code, 0, osc.stderr);
      assert.equal(await glimpse(...args), osc.stdout, `--quote ${quote}`);
    }
    await glimpse('delete', created.id);
  });

  it('draws a progress bar on a terminal while uploading', async () => {
    // A long file name: the bar must still fit one 80-column line.
    const file = path.join(server.dataDir, `big-${'very-long-name-'.repeat(8)}.img`);
    writeFileSync(file, Buffer.alloc(300 * 1024 * 1024, 1));
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const cmd = `${process.execPath} ${BIN} image create --file ${file} --disk-format raw --progress -f value -c id -c status big`;
    const res = await run('script', ['-q', '-e', '-c', cmd, '/dev/null'], env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const frames = res.stdout.split('\r').filter((f) => /uploading .*%/.test(f));
    assert.ok(frames.length >= 2, `the bar was redrawn while uploading: ${JSON.stringify(res.stdout.slice(0, 300))}`);
    assert.match(frames.at(-1)!, /100% 300\.0 MiB \/ 300\.0 MiB .*\/s/);
    for (const frame of frames) assert.ok(frame.replace(/\n.*$/s, '').length <= 80, `a frame wider than the terminal: ${JSON.stringify(frame)}`);
    const percents = frames.map((f) => Number(/(\d+)%/.exec(f)![1]));
    assert.ok(percents.some((p) => p < 100), 'it advanced from below 100%');
    assert.match(res.stdout, /active/);
    const created = { id: /([0-9a-f-]{36})\s+active/.exec(res.stdout)![1] };
    const quiet = await run(process.execPath, [BIN, 'image', 'save', '--file', path.join(server.dataDir, 'copy.img'), created.id], env);
    assert.equal(quiet.stderr, '', 'no bar when stderr is not a terminal');
  });
});

describe('glimpse image with Keystone', { skip: keystoneSkip() }, () => {
  it('authenticates like openstackclient and finds the image service in the catalog', async () => {
    const server = await startTestServer({ auth: 'keystone', ini: KEYSTONE_INI() });
    try {
      const as = (user: string, project: string) => ({
        OS_AUTH_URL: `${KEYSTONE_URL}/v3`, OS_USERNAME: user, OS_PASSWORD: 'pass', OS_PROJECT_NAME: project,
        OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_ENDPOINT: server.url,
      });
      const glimpse = async (env: Record<string, string>, ...args: string[]) => {
        const res = await run(process.execPath, [BIN, 'image', ...args], env);
        assert.equal(res.code, 0, res.stderr);
        return res.stdout;
      };
      const alpha = as('alpha-member', 'alpha');
      const beta = as('beta-member', 'beta');
      const image = JSON.parse(await glimpse(alpha, 'create', '--shared', 'kshared', '-f', 'json'));
      assert.equal(image.owner, projectId('alpha'));
      // Another member first: --accept must change the caller's own membership, never the first one listed.
      await glimpse(alpha, 'add', 'project', image.id, 'someone-else');
      await glimpse(alpha, 'add', 'project', image.id, projectId('beta'));
      await glimpse(beta, 'set', '--accept', image.id);
      const members = JSON.parse(await glimpse(alpha, 'member', 'list', image.id, '-f', 'json')) as { 'Member ID': string; Status: string }[];
      assert.deepEqual(members.map((m) => [m['Member ID'], m.Status]).sort(), [[projectId('beta'), 'accepted'], ['someone-else', 'pending']].sort());
      assert.match(await glimpse(beta, 'list', '-f', 'value', '-c', 'Name'), /kshared/);
      // The same through clouds.yaml, as openstacksdk reads it.
      const dir = server.dataDir;
      writeFileSync(
        path.join(dir, 'clouds.yaml'),
        `clouds:\n  test:\n    auth:\n      auth_url: ${KEYSTONE_URL}/v3\n      username: beta-member\n      password: pass\n      project_name: beta\n      user_domain_name: Default\n      project_domain_name: Default\n    image_endpoint_override: ${server.url}\n`,
      );
      const viaCloud = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'image', 'list', '--os-cloud', 'test', '-f', 'value', '-c', 'Name'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
      assert.match(viaCloud, /kshared/);
      const wrong = await run(process.execPath, [BIN, 'image', 'list'], { ...alpha, OS_PASSWORD: 'wrong' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /refused the credentials \(401/);
    } finally {
      await server.close();
    }
  });
});
