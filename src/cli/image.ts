/**
 * `glimpse image …`: the `openstack image` commands people know, against any
 * Glance-compatible service, with progress bars and resumable downloads.
 */
import { type Hash, createHash, getHashes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import type { Image, ImageList, MemberList } from '../api/wire-types.js';
import { lineageCommand } from './family.js';
import { insightCommand } from './insight.js';
import { inspectCommand } from './inspect.js';
import { type OsOptions, ImageApi, osCommand } from './os-client.js';
import { type OutputOptions, printList, printRecord, withOutputOptions } from './output.js';
import { ProgressBar } from './progress.js';

type Opts = OsOptions & OutputOptions & Record<string, any>;

/** Fields openstackclient shows at the top level; everything else goes under `properties`. */
const TOP_LEVEL = ['status', 'name', 'container_format', 'created_at', 'size', 'disk_format', 'updated_at', 'visibility', 'min_disk', 'protected', 'id', 'file', 'checksum', 'owner', 'virtual_size', 'min_ram', 'schema'];
const NOT_PROPERTIES = new Set(['self', 'tags', 'location', 'locations', 'direct_url', 'stores']);

/**
 * The image attributes openstacksdk knows, in the order its Image resource
 * declares them: openstackclient lists an image's properties in this order,
 * with the ones the SDK does not know where `properties` stands. Numbers and
 * booleans among them are converted as the SDK converts them.
 */
const SDK_ATTRIBUTES = [
  'os_hidden', 'os_hash_algo', 'os_hash_value', 'properties', 'store', 'url', 'metadata', 'architecture', 'hypervisor_type',
  'instance_type_rxtx_factor', 'instance_uuid', 'img_config_drive', 'kernel_id', 'os_distro', 'os_version', 'os_secure_boot',
  'os_shutdown_timeout', 'ramdisk_id', 'vm_mode', 'hw_cpu_sockets', 'hw_cpu_cores', 'hw_cpu_threads', 'hw_disk_bus', 'hw_cpu_policy',
  'hw_cpu_thread_policy', 'hw_rng_model', 'hw_machine_type', 'hw_scsi_model', 'hw_serial_port_count', 'hw_video_model', 'hw_video_ram',
  'hw_watchdog_action', 'os_command_line', 'hw_vif_model', 'hw_vif_multiqueue_enabled', 'hw_boot_menu', 'vmware_adaptertype',
  'vmware_ostype', 'auto_disk_config', 'os_type', 'os_admin_user', 'hw_qemu_guest_agent', 'os_require_quiesce',
];
const SDK_NUMBERS = new Set(['instance_type_rxtx_factor', 'os_shutdown_timeout', 'hw_cpu_sockets', 'hw_cpu_cores', 'hw_cpu_threads', 'hw_serial_port_count', 'hw_video_ram']);
const SDK_BOOLEANS = new Set(['os_hidden', 'hw_vif_multiqueue_enabled', 'hw_boot_menu', 'os_require_quiesce']);

function sdkValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (SDK_NUMBERS.has(key) && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (SDK_BOOLEANS.has(key)) return /^(true|1|yes|on|y|t)$/i.test(value);
  return value;
}

/** The record `openstack image show` prints for an image (null fields left out). */
export function imageRecord(image: Image): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const known: Record<string, unknown> = {};
  const unknown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(image)) {
    if (value === null || value === undefined) continue;
    if (TOP_LEVEL.includes(key)) record[key] = value;
    else if (SDK_ATTRIBUTES.includes(key)) known[key] = sdkValue(key, value);
    else if (!NOT_PROPERTIES.has(key)) unknown[key] = value;
  }
  record.tags = image.tags ?? [];
  const properties = Object.fromEntries(SDK_ATTRIBUTES.flatMap((key) => (key === 'properties' ? Object.entries(unknown) : key in known ? [[key, known[key]]] : [])));
  if (Object.keys(properties).length) record.properties = properties;
  return record;
}

const repeatable = (v: string, all: string[] = []) => [...all, v];

function keyValues(pairs: string[] = []): Record<string, string> {
  return Object.fromEntries(
    pairs.map((p) => {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new Error(`--property takes KEY=VALUE, got "${p}"`);
      return [p.slice(0, eq), p.slice(eq + 1)];
    }),
  );
}

function visibilityOf(o: Opts): string | undefined {
  const chosen = ['public', 'private', 'shared', 'community'].filter((v) => o[v]);
  if (chosen.length > 1) throw new Error('choose one of --public, --private, --shared, --community');
  return chosen[0];
}

const patch = (api: ImageApi, id: string, ops: unknown[]) => api.json('PATCH', `/v2/images/${id}`, ops, 'application/openstack-images-v2.1-json-patch');

async function sendFile(api: ImageApi, id: string, file: string, where: 'file' | 'stage', progress: boolean, store?: string): Promise<void> {
  const size = statSync(file).size;
  const bar = new ProgressBar(size, `uploading ${file}`, process.stderr, progress && Boolean(process.stderr.isTTY));
  const body = Readable.toWeb(createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(bar)) as unknown as BodyInit;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'x-openstack-image-size': String(size) };
  if (store) headers['x-image-meta-store'] = store;
  await api.raw('PUT', `/v2/images/${id}/${where}`, body, headers, { duplex: 'half' } as RequestInit);
}

async function list(o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(keyValues(o.property))) q.append(k, v);
  for (const t of o.tag ?? []) q.append('tag', t);
  if (o.name) q.set('name', o.name);
  if (o.status) q.set('status', o.status);
  const visibility = visibilityOf(o) ?? (o.all ? 'all' : undefined);
  if (visibility) q.set('visibility', visibility);
  if (o.memberStatus) q.set('member_status', o.memberStatus);
  if (o.sort) q.set('sort', o.sort.split(',').map((s: string) => (s.includes(':') ? s : `${s}:asc`)).join(','));
  if (o.marker) q.set('marker', o.marker);
  const limit = o.limit === undefined ? null : Number(o.limit);
  if (limit !== null) q.set('limit', String(limit));
  const images: Image[] = [];
  let path: string | null = `/v2/images?${q}`;
  while (path) {
    const page: ImageList = await api.json('GET', path);
    images.push(...page.images);
    path = limit === null && page.next ? page.next : null;
  }
  const columns = o.long
    ? ['ID', 'Name', 'Disk Format', 'Container Format', 'Size', 'Checksum', 'Status', 'Visibility', 'Protected', 'Project', 'Tags']
    : ['ID', 'Name', 'Status'];
  const rows = images.map((i) =>
    o.long
      ? [i.id, i.name, i.disk_format, i.container_format, i.size, i.checksum, i.status, i.visibility, i.protected, i.owner, i.tags]
      : [i.id, i.name, i.status],
  );
  printList(columns, rows, o);
}

async function show(nameOrId: string | undefined, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  if (o.family) return printRecord(imageRecord(await familyLatest(api, o.family)), o);
  if (!nameOrId) throw new Error('name an image, or a family with --family');
  printRecord(imageRecord(await api.findImage(nameOrId)), o);
}

/** The newest active, non-deprecated image of a family the caller can see (GET /v2/glimpse/families/F). */
async function familyLatest(api: ImageApi, family: string): Promise<Image> {
  const resolved = await api.json<{ latest: Image | null }>('GET', `/v2/glimpse/families/${encodeURIComponent(family)}`);
  if (!resolved.latest) throw new Error(`Family ${family} has no active, non-deprecated image you can see.`);
  return resolved.latest;
}

async function deprecate(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const body: Record<string, string> = {};
  if (o.replacement) body.replacement = (await api.findImage(o.replacement)).id;
  if (o.obsoleteAt) body.obsolete_at = o.obsoleteAt;
  if (o.deleteAt) body.delete_at = o.deleteAt;
  printRecord(imageRecord(await api.json<Image>('POST', `/v2/images/${image.id}/actions/deprecate`, body)), o);
}

async function undeprecate(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  printRecord(imageRecord(await api.json<Image>('POST', `/v2/images/${image.id}/actions/undeprecate`)), o);
}

async function create(name: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const body: Record<string, unknown> = { name, ...keyValues(o.property) };
  if (o.family) body.glimpse_family = o.family;
  if (o.diskFormat) body.disk_format = o.diskFormat;
  if (o.containerFormat) body.container_format = o.containerFormat;
  // openstackclient's defaults, with or without data.
  body.disk_format ??= 'raw';
  body.container_format ??= 'bare';
  const visibility = visibilityOf(o);
  if (visibility) body.visibility = visibility;
  if (o.protected) body.protected = true;
  if (o.hidden) body.os_hidden = true;
  if (o.minDisk !== undefined) body.min_disk = Number(o.minDisk);
  if (o.minRam !== undefined) body.min_ram = Number(o.minRam);
  if (o.tag) body.tags = o.tag;
  if (o.id) body.id = o.id;
  const image: Image = await api.json('POST', '/v2/images', body);
  try {
    if (o.file && o.import) {
      await sendFile(api, image.id, o.file, 'stage', o.progress);
      await api.json('POST', `/v2/images/${image.id}/import`, { method: { name: 'glance-direct' }, ...(o.store ? { stores: [o.store] } : {}) });
    } else if (o.file) {
      await sendFile(api, image.id, o.file, 'file', o.progress, o.store);
    }
  } catch (err) {
    // As openstacksdk: no stray queued record is left behind by a create that failed.
    const removed = await api.raw('DELETE', `/v2/images/${image.id}`).then(
      () => `the new image record ${image.id} was deleted`,
      () => `the new image record ${image.id} remains (queued, without data): delete it with "glimpse image delete ${image.id}"`,
    );
    throw new Error(`${(err as Error).message}; ${removed}`);
  }
  printRecord(imageRecord(await api.json('GET', `/v2/images/${image.id}`)), o);
}

async function set(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const ops: unknown[] = [];
  const put = (path: string, value: unknown) => ops.push({ op: 'add', path: `/${path}`, value });
  if (o.name) put('name', o.name);
  for (const [k, v] of Object.entries(keyValues(o.property))) put(k.replace(/~/g, '~0').replace(/\//g, '~1'), v);
  if (o.diskFormat) put('disk_format', o.diskFormat);
  if (o.containerFormat) put('container_format', o.containerFormat);
  const visibility = visibilityOf(o);
  if (visibility) put('visibility', visibility);
  if (o.protected) put('protected', true);
  if (o.unprotected) put('protected', false);
  if (o.hidden) put('os_hidden', true);
  if (o.unhidden) put('os_hidden', false);
  if (o.minDisk !== undefined) put('min_disk', Number(o.minDisk));
  if (o.minRam !== undefined) put('min_ram', Number(o.minRam));
  if (o.tag) put('tags', [...new Set([...(image.tags ?? []), ...o.tag])]);
  const status = o.accept ? 'accepted' : o.reject ? 'rejected' : o.pending ? 'pending' : null;
  // As openstackclient: --project names the new owner, unless it says whose membership to change.
  if (o.project && !status) put('owner', o.project);
  if (ops.length) await patch(api, image.id, ops);
  if (o.deactivate) await api.raw('POST', `/v2/images/${image.id}/actions/deactivate`);
  if (o.activate) await api.raw('POST', `/v2/images/${image.id}/actions/reactivate`);
  if (status) {
    // As openstackclient: the membership changed is the caller's own project's, unless --project names another.
    const project = o.project ?? api.projectId;
    if (!project) throw new Error('--project is needed: without a Keystone token there is no project of your own to accept for');
    await api.json('PUT', `/v2/images/${image.id}/members/${encodeURIComponent(project)}`, { status });
  }
}

async function unset(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const ops = (o.property ?? []).map((k: string) => ({ op: 'remove', path: `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}` }));
  if (ops.length) await patch(api, image.id, ops);
  for (const tag of o.tag ?? []) await api.raw('DELETE', `/v2/images/${image.id}/tags/${encodeURIComponent(tag)}`);
}

async function remove(images: string[], o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const failures: string[] = [];
  for (const nameOrId of images) {
    try {
      await api.raw('DELETE', `/v2/images/${(await api.findImage(nameOrId)).id}`);
    } catch (err) {
      failures.push(`${nameOrId}: ${(err as Error).message}`);
    }
  }
  if (failures.length) throw new Error(`${failures.length} of ${images.length} images failed to delete:\n  ${failures.join('\n  ')}`);
}

/**
 * Downloads to a file, and checks what was written against the image's
 * os_hash_value (else its md5 checksum), as the Python clients check md5:
 * a mismatch is an error, never a quiet exit 0. With --resume, a partial file
 * is first checked against the image (not longer than it) and hashed, then
 * continued with a Range request.
 */
async function save(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const digest = new DownloadDigest(image);
  if (!o.file && o.resume) throw new Error('--resume needs --file: standard output cannot be continued');
  let already = o.resume && existsSync(o.file) ? statSync(o.file).size : 0;
  if (image.size !== null && already > image.size) {
    throw new Error(`${o.file} holds ${already} bytes, more than image ${image.id}'s ${image.size}: it is not part of this image (remove it, or save without --resume)`);
  }
  if (already > 0) await pipeline(createReadStream(o.file), digest.tap(), new Writable({ write: (_c, _e, cb) => cb() }));
  if (!(image.size !== null && already === image.size)) {
    const res = await api.raw('GET', `/v2/images/${image.id}/file`, undefined, already ? { range: `bytes=${already}-` } : {});
    if (res.status === 204 || !res.body) throw new Error(`image ${image.id} has no data`);
    if (already > 0 && res.status !== 206) {
      // The server sent the whole image instead of the rest: start over.
      already = 0;
      digest.restart();
    }
    const bar = new ProgressBar(image.size, `downloading ${image.name ?? image.id}`, process.stderr, o.progress !== false && Boolean(process.stderr.isTTY), already);
    // Without --file the data goes to standard output, as openstackclient's save does.
    const sink = o.file ? createWriteStream(o.file, { flags: already > 0 ? 'a' : 'w' }) : process.stdout;
    await pipeline(Readable.fromWeb(res.body as never), bar, digest.tap(), sink, { end: Boolean(o.file) });
  }
  digest.verify(o.file ?? 'the data written to standard output', already > 0);
}

/** The digest a download is checked against: os_hash_algo/os_hash_value, else the md5 `checksum`. */
class DownloadDigest {
  private hash: Hash | null = null;
  private readonly algorithm: string | null;
  private readonly expected: string | null;
  private readonly field: string;

  constructor(image: Image) {
    const algo = typeof image.os_hash_algo === 'string' && getHashes().includes(image.os_hash_algo) ? image.os_hash_algo : null;
    if (algo && image.os_hash_value) {
      [this.algorithm, this.expected, this.field] = [algo, image.os_hash_value, `${algo} (os_hash_value)`];
    } else {
      [this.algorithm, this.expected, this.field] = image.checksum ? ['md5', image.checksum, 'md5 (checksum)'] : [null, null, ''];
    }
    this.restart();
  }

  restart(): void {
    this.hash = this.algorithm ? createHash(this.algorithm) : null;
  }

  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.hash?.update(chunk);
        cb(null, chunk);
      },
    });
  }

  verify(file: string, resumed: boolean): void {
    if (!this.hash || !this.expected) return;
    const got = this.hash.digest('hex');
    if (got === this.expected) return;
    throw new Error(
      `${file} does not match the image's ${this.field}: expected ${this.expected}, got ${got}. ` +
        (resumed ? 'The partial file it continued may not belong to this image: save again without --resume.' : 'The download is corrupt: save it again.'),
    );
  }
}

async function stage(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await sendFile(api, (await api.findImage(nameOrId)).id, o.file, 'stage', o.progress);
}

async function importImage(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const method: Record<string, string> = { name: o.method };
  if (o.uri) method.uri = o.uri;
  await api.raw('POST', `/v2/images/${(await api.findImage(nameOrId)).id}/import`, JSON.stringify({ method }), { 'content-type': 'application/json' });
}

async function addProject(nameOrId: string, project: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const member = await api.json('POST', `/v2/images/${(await api.findImage(nameOrId)).id}/members`, { member: project });
  printRecord({ created_at: member.created_at, image_id: member.image_id, member_id: member.member_id, schema: member.schema, status: member.status, updated_at: member.updated_at }, o);
}

async function removeProject(nameOrId: string, project: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await api.raw('DELETE', `/v2/images/${(await api.findImage(nameOrId)).id}/members/${encodeURIComponent(project)}`);
}

async function memberList(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const { members } = await api.json<MemberList>('GET', `/v2/images/${(await api.findImage(nameOrId)).id}/members`);
  printList(['Image ID', 'Member ID', 'Status'], members.map((m) => [m.image_id, m.member_id, m.status]), o);
}

async function action(nameOrId: string, which: 'deactivate' | 'reactivate', o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await api.raw('POST', `/v2/images/${(await api.findImage(nameOrId)).id}/actions/${which}`);
}

async function tag(nameOrId: string, value: string, add: boolean, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await api.raw(add ? 'PUT' : 'DELETE', `/v2/images/${(await api.findImage(nameOrId)).id}/tags/${encodeURIComponent(value)}`);
}

/** Every command's --help ends with examples. */
const cmd = osCommand;
const visibilityFlags = (c: Command) =>
  c.option('--public', 'visible to everyone').option('--private', 'only the owner').option('--shared', 'owner and members').option('--community', 'anyone who asks for it');
const recordFlags = (c: Command) =>
  visibilityFlags(
    c
      .option('--disk-format <format>', 'raw, qcow2, vmdk, vhd, vhdx, vdi, iso, ploop, ami, ari, aki')
      .option('--container-format <format>', 'bare, ovf, ova, docker, compressed, ami, ari, aki')
      .option('--property <key=value>', 'a custom property (repeatable)', repeatable)
      .option('--tag <tag>', 'a tag (repeatable)', repeatable)
      .option('--protected', 'cannot be deleted')
      .option('--unprotected', 'can be deleted')
      .option('--hidden', 'leave it out of default lists (os_hidden)')
      .option('--unhidden', 'list it again')
      .option('--min-disk <gib>', 'smallest disk to boot it, in GiB')
      .option('--min-ram <mib>', 'least RAM to boot it, in MiB'),
  );

export function imageCommand(): Command {
  const image = new Command('image').description('images, as `openstack image` manages them').addHelpText(
    'after',
    `
Examples:
  glimpse image list --os-auth-type none --os-endpoint http://127.0.0.1:9292
  glimpse image create --file cirros.img --disk-format qcow2 --property os_distro=cirros --progress cirros
  glimpse image show -f json cirros
  glimpse image save --file cirros.img --resume cirros`,
  );
  image.addCommand(
    withOutputOptions(
      visibilityFlags(cmd('list', 'list images', 'glimpse image list --property os_distro=ubuntu --long', 'glimpse image list --sort name:asc -f value -c Name'))
        .option('--all', 'every visibility')
        .option('--property <key=value>', 'only images with this property (repeatable)', repeatable)
        .option('--tag <tag>', 'only images with this tag (repeatable)', repeatable)
        .option('--name <name>', 'only images with this name')
        .option('--status <status>', 'only images in this status')
        .option('--member-status <status>', 'pending, accepted, rejected or all')
        .option('--sort <key[:dir],...>', 'sort on the server, e.g. name:asc,size:desc (default name:asc, as openstackclient)', 'name:asc')
        .option('--limit <n>', 'at most this many images (one page)')
        .option('--marker <id>', 'start after this image')
        .option('--long', 'more columns'),
      ['table', 'json', 'yaml', 'value', 'csv'],
    ).action(list),
  );
  image.addCommand(
    withOutputOptions(cmd('show', 'show one image', 'glimpse image show cirros', 'glimpse image show --family ubuntu-2404 -f value -c id').argument('[image]', 'name or id'))
      .option('--family <family>', 'the newest active, non-deprecated image of this family (Glimpse)')
      .action(show),
  );
  image.addCommand(
    withOutputOptions(cmd('deprecate', 'deprecate an image: hidden from lists, still usable by id (Glimpse)', 'glimpse image deprecate --replacement ubuntu-24.04.2 --obsolete-at 2027-01-31T00:00:00Z ubuntu-24.04.1').argument('<image>'))
      .option('--replacement <image>', 'the image to use instead')
      .option('--obsolete-at <time>', 'when it is to be deactivated (ISO 8601)')
      .option('--delete-at <time>', 'when it is to be deleted (ISO 8601)')
      .action(deprecate),
  );
  image.addCommand(withOutputOptions(cmd('undeprecate', 'list a deprecated image again and drop its schedule (Glimpse)', 'glimpse image undeprecate ubuntu-24.04.1').argument('<image>')).action(undeprecate));
  image.addCommand(
    withOutputOptions(recordFlags(cmd('create', 'create an image, and upload its data', 'glimpse image create --file cirros.img --disk-format qcow2 --property os_distro=cirros --progress cirros', 'glimpse image create --file big.raw --import --private big').argument('<name>')))
      .option('--file <file>', 'upload this file as the image data')
      .option('--import', 'upload with interoperable import (stage + glance-direct)')
      .option('--id <uuid>', 'the new image id')
      .option('--progress', 'show a progress bar while uploading')
      .option('--store <store>', 'the store to put the data in (multi-store deployments; X-Image-Meta-Store)')
      .option('--family <family>', 'put the image in this family (property glimpse_family; Glimpse)')
      .action(create),
  );
  image.addCommand(
    recordFlags(cmd('set', 'change an image', 'glimpse image set --property hw_disk_bus=scsi --tag stable cirros', 'glimpse image set --accept <image shared with you>').argument('<image>'))
      .option('--name <name>', 'new name')
      .option('--deactivate', 'deactivate the image')
      .option('--activate', 'reactivate the image')
      .option('--accept', "accept the image shared with your project")
      .option('--reject', "reject the image shared with your project")
      .option('--pending', 'reset your membership to pending')
      .option('--project <project>', 'the new owner; with --accept/--reject/--pending, the member project whose status to change')
      .action(set),
  );
  addDataCommands(image);
  addSharingCommands(image);
  return image;
}

/** unset, delete, save, stage, import, inspect, deactivate, reactivate. */
function addDataCommands(image: Command): void {
  image.addCommand(
    cmd('unset', 'remove properties or tags', 'glimpse image unset --property hw_disk_bus --tag stable cirros')
      .argument('<image>')
      .option('--property <key>', 'property to remove (repeatable)', repeatable)
      .option('--tag <tag>', 'tag to remove (repeatable)', repeatable)
      .action(unset),
  );
  image.addCommand(cmd('delete', 'delete images', 'glimpse image delete old-1 old-2').argument('<images...>').action(remove));
  image.addCommand(
    cmd('save', 'download image data to a file', 'glimpse image save --file cirros.img cirros', 'glimpse image save --resume --file big.raw big')
      .argument('<image>')
      .option('--file <file>', 'where to write the data (default: standard output)')
      .option('--resume', 'continue a partial file with a range request')
      .option('--no-progress', 'no progress bar')
      .action(save),
  );
  image.addCommand(cmd('stage', 'upload data to the staging area', 'glimpse image stage --file big.raw big').argument('<image>').requiredOption('--file <file>').option('--progress').action(stage));
  image.addCommand(
    cmd('import', 'start an interoperable import', 'glimpse image import big', 'glimpse image import --method web-download --uri https://example.org/x.qcow2 x')
      .argument('<image>')
      .option('--method <method>', 'glance-direct, web-download or copy-image', 'glance-direct')
      .option('--uri <uri>', 'web-download source')
      .action(importImage),
  );
  image.addCommand(inspectCommand());
  image.addCommand(lineageCommand());
  image.addCommand(insightCommand());
  image.addCommand(cmd('deactivate', 'deactivate an image', 'glimpse image deactivate cirros').argument('<image>').action((i: string, o: Opts) => action(i, 'deactivate', o)));
  image.addCommand(cmd('reactivate', 'reactivate an image', 'glimpse image reactivate cirros').argument('<image>').action((i: string, o: Opts) => action(i, 'reactivate', o)));
}

/** Sharing, members and tags: `image add|remove project`, `image member list`, `image tag add|remove`. */
function addSharingCommands(image: Command): void {
  const add = new Command('add').description('share');
  add.addCommand(withOutputOptions(cmd('project', 'share an image with a project', 'glimpse image add project cirros <project id>').argument('<image>').argument('<project>')).action(addProject));
  image.addCommand(add);
  const rm = new Command('remove').description('unshare');
  rm.addCommand(cmd('project', 'stop sharing an image with a project', 'glimpse image remove project cirros <project id>').argument('<image>').argument('<project>').action(removeProject));
  image.addCommand(rm);
  const member = new Command('member').description('members');
  member.addCommand(withOutputOptions(cmd('list', "list an image's members", 'glimpse image member list cirros').argument('<image>')).action(memberList));
  image.addCommand(member);
  const tags = new Command('tag').description('tags');
  tags.addCommand(cmd('add', 'add a tag', 'glimpse image tag add cirros stable').argument('<image>').argument('<tag>').action((i: string, t: string, o: Opts) => tag(i, t, true, o)));
  tags.addCommand(cmd('remove', 'remove a tag', 'glimpse image tag remove cirros stable').argument('<image>').argument('<tag>').action((i: string, t: string, o: Opts) => tag(i, t, false, o)));
  image.addCommand(tags);
}
