/**
 * Glance's Swift store, with glance_store's location URIs, so Glance's data
 * is served as is.
 *
 * Single tenant (default): every image in one container of one account,
 * object name = image id, locations with the credentials inline, or
 * `swift+config://<reference>/…` when they come from `swift_store_config_file`.
 *
 * Multi-tenant (`swift_store_multi_tenant`): each image in the *caller's*
 * account (the storage URL from the caller's token's service catalog, or
 * `swift_store_endpoint`), in a container of its own, `<container>_<id>`,
 * written and read with the caller's own token; locations carry the storage
 * URL and no credentials. Who else may read it is a container ACL kept in
 * step with the image's visibility and members (`setAcl`), as Glance does.
 *
 * Images of unknown size or of at least `swift_store_large_object_size` are
 * written as a Static Large Object: `<id>-00001`, `<id>-00002` … segments of
 * `swift_store_large_object_chunk_size`, then the manifest `<id>`. SLO rather
 * than Glance's DLO: the manifest lists exact segments and ETags, so a
 * half-written image can never read as complete. Both kinds are read and
 * deleted, so images Glance wrote as DLOs keep working.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { SwiftAuthOptions, SwiftStoreOptions, SwiftTenancy } from '../config/options.js';
import { GlimpseError, conflict, notFound } from '../domain/errors.js';
import { hostname } from 'node:os';
import { containerAndObject, drain, expectStatus, quoteCredential, send, text } from './http-client.js';
import type { ByteRange, DataAcl, ImageStore, StoreCaller } from './image-store.js';
import { LEASE_SUFFIX, type LeaseObject, ageFromHeaders, whileLeased, writerState } from './lease.js';
import { findEndpoint, issueToken } from '../net/keystone-client.js';
import { leftBehind } from './leftovers.js';
import { Segmenter } from './segments.js';

/** Finds a caller's object-store URL in the catalog of its token (Keystone). */
export type StorageUrlLookup = (token: string, tenancy: SwiftTenancy) => Promise<string>;

/** Where requests go and with which token. */
interface Account {
  url: string;
  token: string;
  /** The service account logs in again after a 401; a caller's token is what it is. */
  renew: (() => Promise<Account>) | null;
}

export class SwiftStore implements ImageStore {
  readonly type = 'swift';
  private session: Promise<Account> | null = null;

  constructor(
    readonly id: string,
    private readonly o: SwiftStoreOptions,
    private readonly runtime: { storageUrlOf: StorageUrlLookup | null; heartbeatMs: number },
  ) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal; size?: number | null; caller?: StoreCaller } = {}) {
    const { account, container, location } = await this.placeFor(imageId, options.caller);
    await this.ensureContainer(account, container);
    const head = await this.request(account, 'HEAD', container, imageId);
    drain(head);
    if (head.statusCode === 200) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const size = options.size ?? null;
    const written = await whileLeased(this.lease(account, container, imageId), this.runtime.heartbeatMs, () =>
      size !== null && size < this.o.largeObjectSize
        ? this.putObject(account, container, imageId, data, options.signal)
        : this.putLargeObject(account, container, imageId, data, options.signal),
    );
    return { location, size: written };
  }

  /**
   * For an image stuck in `saving`: false while a writer's lease is fresh; else
   * removes what a dead writer left (segments, an object never committed) and
   * answers true. Segments without any lease were written by a writer that
   * keeps none (glance-api beside Glimpse): not ours to judge. Tenant accounts
   * cannot be reached without their caller's token, so a multi-tenant store
   * cannot tell.
   */
  async releaseAbandoned(imageId: string): Promise<boolean> {
    if (this.o.tenancy) return false;
    const account = await this.serviceAccount();
    const container = this.o.container;
    const lease = this.lease(account, container, imageId);
    const state = await writerState(lease, this.runtime.heartbeatMs);
    if (state === 'live') return false;
    const segments = await this.list(account, container, `${imageId}-`);
    if (state === 'none' && segments.length > 0) return false;
    for (const segment of segments) await this.remove(account, container, segment);
    await this.remove(account, container, imageId);
    await lease.remove();
    return true;
  }

  private lease(account: Account, container: string, imageId: string): LeaseObject {
    const name = `${imageId}${LEASE_SUFFIX}`;
    return {
      write: async () => {
        const res = await this.request(account, 'PUT', container, name, { 'content-type': 'text/plain' }, Buffer.from(`${hostname()} ${process.pid}\n`));
        drain(res);
        await expectStatus('Swift', res, [201], `PUT ${name}`);
      },
      age: async () => {
        const res = await this.request(account, 'HEAD', container, name);
        drain(res);
        if (res.statusCode === 404) return null;
        await expectStatus('Swift', res, [200], `HEAD ${name}`);
        return ageFromHeaders(res.headers);
      },
      remove: () => this.remove(account, container, name),
    };
  }

  /**
   * A swift URI in this store's container, or in one named after it
   * (`<container>_…`: multi-tenant stores' per-image containers, and
   * glance_store's swift_store_multiple_containers_seed).
   */
  owns(location: string): boolean {
    if (!/^swift(\+https?|\+config)?:\/\//.test(location)) return false;
    try {
      const { container } = containerAndObject(location);
      return container === this.o.container || container.startsWith(`${this.o.container}_`);
    } catch {
      return false;
    }
  }

  async get(location: string, range?: ByteRange, caller?: StoreCaller): Promise<Readable> {
    const { account, container, object } = await this.locate(location, caller);
    const res = await this.request(account, 'GET', container, object, range ? { range: `bytes=${range.start}-${range.end}` } : {});
    if (res.statusCode === 404) {
      drain(res);
      throw notFound(`Image data not found at ${container}/${object} in store ${this.id}`);
    }
    await expectStatus('Swift', res, [200, 206], `GET ${object}`);
    return res;
  }

  async delete(location: string, caller?: StoreCaller): Promise<void> {
    const { account, container, object, tenant } = await this.locate(location, caller);
    await this.deleteObject(account, container, object);
    // A tenant image's container is its own: it goes with it (Glance's MultiTenantStore.delete).
    if (tenant) await this.remove(account, container, null, [409]);
  }

  /** Glance's `set_acls`: public → everyone may read; else the member projects; admin projects may write. */
  async setAcl(location: string, acl: DataAcl, caller: StoreCaller): Promise<void> {
    if (!isTenantLocation(location)) return;
    const { account, container } = await this.locate(location, caller);
    const read = acl.public ? '*:*' : acl.readProjects.map((p) => `${p}:*`).join(',');
    const write = (this.o.tenancy?.adminProjects ?? []).map((p) => `${p}:*`).join(',');
    const res = await this.request(account, 'POST', container, null, { 'x-container-read': read, 'x-container-write': write });
    drain(res);
    if (res.statusCode === 404) throw notFound(`Swift could not find image at URI.`);
    await expectStatus('Swift', res, [204, 202], `POST container ${container}`);
  }

  private async deleteObject(account: Account, container: string, object: string): Promise<void> {
    const head = await this.request(account, 'HEAD', container, object);
    drain(head);
    if (head.statusCode === 404) return;
    await expectStatus('Swift', head, [200], `HEAD ${object}`);
    if (String(head.headers['x-static-large-object']).toLowerCase() === 'true') {
      await this.remove(account, container, `${object}?multipart-manifest=delete`);
      return;
    }
    const manifest = head.headers['x-object-manifest'];
    if (typeof manifest === 'string') {
      const [segmentContainer, ...prefix] = manifest.split('/');
      for (const segment of await this.list(account, decodeURIComponent(segmentContainer), decodeURIComponent(prefix.join('/')))) {
        await this.remove(account, decodeURIComponent(segmentContainer), segment);
      }
    }
    await this.remove(account, container, object);
  }

  /** Where a new image goes: the service's container, or a container of its own in the caller's account. */
  private async placeFor(imageId: string, caller?: StoreCaller): Promise<{ account: Account; container: string; location: string }> {
    if (!this.o.tenancy) return { account: await this.serviceAccount(), container: this.o.container, location: this.serviceLocation(imageId) };
    const token = callerToken(caller, this.id);
    const url = (this.o.tenancy.endpoint ?? (await this.lookupStorageUrl(token))).replace(/\/+$/, '');
    const container = `${this.o.container}_${imageId}`;
    const scheme = url.startsWith('https:') ? 'swift+https' : 'swift+http';
    return {
      account: { url, token, renew: null },
      container,
      location: `${scheme}://${url.slice(url.indexOf('://') + 3)}/${container}/${imageId}`,
    };
  }

  /**
   * The account a location lives in: a location with credentials (or a
   * `swift+config` reference) is in the service's account; one without is a
   * tenant location, whose URI is its storage URL, read with the caller's token.
   */
  private async locate(location: string, caller?: StoreCaller): Promise<{ account: Account; container: string; object: string; tenant: boolean }> {
    const { container, object } = containerAndObject(location);
    if (!isTenantLocation(location)) return { account: await this.serviceAccount(), container, object, tenant: false };
    const afterScheme = location.slice(location.indexOf('://') + 3);
    const scheme = location.startsWith('swift+https://') || location.startsWith('swift://') ? 'https' : 'http';
    const path = afterScheme.split('/').slice(0, -2).join('/');
    return { account: { url: `${scheme}://${path}`, token: callerToken(caller, this.id), renew: null }, container, object, tenant: true };
  }

  private async lookupStorageUrl(token: string): Promise<string> {
    if (!this.runtime.storageUrlOf || !this.o.tenancy) {
      throw new GlimpseError('service_unavailable', `Swift store ${this.id}: multi-tenant storage needs swift_store_endpoint or Keystone's service catalog.`);
    }
    return this.runtime.storageUrlOf(token, this.o.tenancy);
  }

  /** `swift+http(s)://user:key@auth/container/id`, or `swift+config://ref/container/id`: glance_store's forms. */
  private serviceLocation(imageId: string): string {
    if (this.o.reference) return `swift+config://${this.o.reference}/${this.o.container}/${imageId}`;
    const auth = this.o.auth!;
    const url = new URL(auth.url);
    const scheme = url.protocol === 'https:' ? 'swift+https' : 'swift+http';
    const where = `${url.host}${url.pathname.replace(/\/$/, '')}`;
    return `${scheme}://${quoteCredential(auth.user)}:${quoteCredential(auth.key)}@${where}/${this.o.container}/${imageId}`;
  }

  private async putObject(account: Account, container: string, imageId: string, data: Readable, signal?: AbortSignal): Promise<number> {
    // Counted on the way, so no HEAD is needed afterwards; the source's errors still fail the PUT.
    let bytes = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of data as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        yield chunk;
      }
    }
    const res = await this.request(account, 'PUT', container, imageId, {}, Readable.from(counted(), { objectMode: false }), signal);
    await expectStatus('Swift', res, [201], `PUT ${imageId}`);
    drain(res);
    return bytes;
  }

  private async putLargeObject(account: Account, container: string, imageId: string, data: Readable, signal?: AbortSignal): Promise<number> {
    const segments: { path: string; etag: string; size_bytes: number }[] = [];
    const written: string[] = [];
    const segmenter = new Segmenter(data, this.o.chunkSize);
    try {
      do {
        const name = `${imageId}-${String(segments.length + 1).padStart(5, '0')}`;
        const segment = segmenter.next();
        const res = await this.request(account, 'PUT', container, name, {}, segment.stream, signal);
        written.push(name);
        await expectStatus('Swift', res, [201], `PUT segment ${name}`);
        drain(res);
        if (segment.bytes() === 0 && segments.length > 0) break;
        segments.push({ path: `/${container}/${name}`, etag: String(res.headers.etag ?? '').replace(/"/g, ''), size_bytes: segment.bytes() });
      } while (!segmenter.done);
      const manifest = await this.request(account, 'PUT', container, `${imageId}?multipart-manifest=put`, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(segments)), signal);
      await expectStatus('Swift', manifest, [201], `PUT manifest ${imageId}`);
      drain(manifest);
      return segments.reduce((sum, s) => sum + s.size_bytes, 0);
    } catch (err) {
      for (const name of written) await this.remove(account, container, name).catch(leftBehind(`segment ${container}/${name} of a failed write`));
      throw err;
    }
  }

  private async ensureContainer(account: Account, container: string): Promise<void> {
    const head = await this.request(account, 'HEAD', container, null);
    drain(head);
    if (head.statusCode === 204 || head.statusCode === 200) return;
    if (head.statusCode !== 404) await expectStatus('Swift', head, [204], `HEAD container ${container}`);
    if (!this.o.createContainer) {
      throw new GlimpseError('service_unavailable', `Swift container ${container} does not exist (set swift_store_create_container_on_put to create it).`);
    }
    const put = await this.request(account, 'PUT', container, null);
    drain(put);
    await expectStatus('Swift', put, [201, 202], `PUT container ${container}`);
  }

  private async list(account: Account, container: string, prefix: string): Promise<string[]> {
    const res = await this.request(account, 'GET', container, null, {}, undefined, undefined, `?format=json&prefix=${encodeURIComponent(prefix)}`);
    if (res.statusCode === 404) return [];
    await expectStatus('Swift', res, [200, 204], `list ${container}`);
    return (JSON.parse((await text(res)) || '[]') as { name: string }[]).map((o) => o.name);
  }

  /** DELETE of an object (or, with `object` null, a container); missing is fine, and so is any status in `tolerated`. */
  private async remove(account: Account, container: string, object: string | null, tolerated: number[] = []): Promise<void> {
    const res = await this.request(account, 'DELETE', container, object);
    drain(res);
    if (res.statusCode !== 404 && !tolerated.includes(res.statusCode ?? 0)) await expectStatus('Swift', res, [200, 204], `DELETE ${object ?? container}`);
  }

  /** One authenticated request; a 401 on the service account (expired token) logs in again once. */
  private async request(
    account: Account,
    method: string,
    container: string,
    object: string | null,
    headers: Record<string, string> = {},
    body?: Readable | Buffer,
    signal?: AbortSignal,
    query = '',
  ): Promise<IncomingMessage> {
    const path = `${encodeURIComponent(container)}${object === null ? '' : `/${encodeObject(object)}`}`;
    let current = account;
    for (let attempt = 0; ; attempt++) {
      const res = await send({ method, url: `${current.url}/${path}${query}`, headers: { ...headers, 'x-auth-token': current.token }, body, signal });
      // A streamed body cannot be sent twice; only bodiless or buffered requests are retried.
      if (res.statusCode === 401 && attempt === 0 && current.renew && (body === undefined || Buffer.isBuffer(body))) {
        drain(res);
        current = await current.renew();
        continue;
      }
      if (res.statusCode === 401 || res.statusCode === 403) {
        await expectStatus('Swift', res, [], `${method} ${object ?? container} (refused: ${res.statusCode})`);
      }
      return res;
    }
  }

  private serviceAccount(): Promise<Account> {
    if (!this.o.auth) {
      return Promise.reject(new GlimpseError('service_unavailable', `Swift store ${this.id} has no service credentials to read ${this.o.container}'s single-tenant data with.`));
    }
    this.session ??= authenticate(this.o.auth).then(
      (s): Account => ({
        url: s.storageUrl,
        token: s.token,
        renew: () => {
          this.session = null;
          return this.serviceAccount();
        },
      }),
      (err: unknown) => {
        this.session = null;
        throw err;
      },
    );
    return this.session;
  }
}

/** A location without credentials (and not a `swift+config` reference) is in a tenant's own account. */
function isTenantLocation(location: string): boolean {
  if (location.startsWith('swift+config://')) return false;
  return !location.slice(location.indexOf('://') + 3).split('/')[0].includes('@');
}

function callerToken(caller: StoreCaller | undefined, storeId: string): string {
  if (!caller?.token) {
    throw new GlimpseError('service_unavailable', `Swift store ${storeId} is multi-tenant: its data is reached only with the caller's Keystone token.`);
  }
  return caller.token;
}

/** Object names keep their `?multipart-manifest=…` query; everything else is path-encoded. */
function encodeObject(object: string): string {
  const [name, query] = object.split('?');
  return `${name.split('/').map(encodeURIComponent).join('/')}${query ? `?${query}` : ''}`;
}

interface Session {
  token: string;
  storageUrl: string;
}

async function authenticate(auth: SwiftAuthOptions): Promise<Session> {
  if (auth.version === '1') {
    const res = await send({ method: 'GET', url: auth.url, headers: { 'x-auth-user': auth.user, 'x-auth-key': auth.key } });
    drain(res);
    const token = res.headers['x-auth-token'] ?? res.headers['x-storage-token'];
    const storageUrl = res.headers['x-storage-url'];
    if (res.statusCode !== 200 || typeof token !== 'string' || typeof storageUrl !== 'string') {
      throw new GlimpseError('service_unavailable', `Swift authentication failed (${res.statusCode}) at ${auth.url}`);
    }
    return { token, storageUrl: storageUrl.replace(/\/$/, '') };
  }
  const [project, user] = auth.project ? [auth.project, auth.user] : splitTenantUser(auth.user);
  const issued = await issueToken(
    auth.url,
    { method: 'password', user, password: auth.key, domain: { id: auth.userDomain ?? 'default' } },
    { project: { name: project, domain: { id: auth.projectDomain ?? 'default' } } },
    { catalog: true, timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    throw new GlimpseError('service_unavailable', `Keystone at ${auth.url} cannot be reached for Swift's credentials (${err instanceof Error ? err.message : String(err)})`);
  });
  const endpoint = findEndpoint(issued.body.token.catalog ?? [], { type: 'object-store', interface: 'public' });
  if (issued.status !== 201 || !issued.token || !endpoint) {
    throw new GlimpseError('service_unavailable', `Swift authentication through Keystone failed (${issued.status}) at ${auth.url}`);
  }
  return { token: issued.token, storageUrl: endpoint.replace(/\/$/, '') };
}

/** Glance's single-tenant user is `<project>:<user>`. */
function splitTenantUser(user: string): [string, string] {
  const at = user.indexOf(':');
  return at === -1 ? ['', user] : [user.slice(0, at), user.slice(at + 1)];
}
