/**
 * Glance's Swift store, single tenant: every image in one container of one
 * account, object name = image id, location URIs exactly as glance_store
 * writes them (credentials inline, or `swift+config://<reference>/…` when
 * they come from `swift_store_config_file`), so Glance's data is served as is.
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
import { GlimpseError, conflict, notFound } from '../domain/errors.js';
import { containerAndObject, drain, expectStatus, quoteCredential, send, text } from './http-client.js';
import type { ByteRange, ImageStore } from './image-store.js';
import { Segmenter } from './segments.js';

export interface SwiftAuthOptions {
  /** The auth endpoint: `…/auth/v1.0` (tempauth, swauth) or a Keystone v3 URL. */
  url: string;
  version: '1' | '3';
  user: string;
  key: string;
  /** Keystone v3: the project (Glance's `user` is `project:user` in single tenant mode). */
  project?: string;
  userDomain?: string;
  projectDomain?: string;
}

export interface SwiftStoreOptions {
  auth: SwiftAuthOptions;
  /** Set when the credentials come from `swift_store_config_file`: locations then name the reference. */
  reference: string | null;
  container: string;
  createContainer: boolean;
  largeObjectSize: number;
  chunkSize: number;
}

interface Session {
  token: string;
  storageUrl: string;
}

export class SwiftStore implements ImageStore {
  readonly type = 'swift';
  private session: Promise<Session> | null = null;

  constructor(
    readonly id: string,
    private readonly o: SwiftStoreOptions,
  ) {}

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal; size?: number | null } = {}) {
    await this.ensureContainer();
    const head = await this.request('HEAD', this.o.container, imageId);
    drain(head);
    if (head.statusCode === 200) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const size = options.size ?? null;
    const written =
      size !== null && size < this.o.largeObjectSize
        ? await this.putObject(imageId, data, options.signal)
        : await this.putLargeObject(imageId, data, options.signal);
    return { location: this.locationOf(imageId), size: written };
  }

  owns(location: string): boolean {
    return /^swift(\+https?|\+config)?:\/\//.test(location);
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const { container, object } = containerAndObject(location);
    const res = await this.request('GET', container, object, range ? { range: `bytes=${range.start}-${range.end}` } : {});
    if (res.statusCode === 404) {
      drain(res);
      throw notFound(`Image data not found at ${container}/${object} in store ${this.id}`);
    }
    await expectStatus('Swift', res, [200, 206], `GET ${object}`);
    return res;
  }

  async delete(location: string): Promise<void> {
    const { container, object } = containerAndObject(location);
    const head = await this.request('HEAD', container, object);
    drain(head);
    if (head.statusCode === 404) return;
    await expectStatus('Swift', head, [200], `HEAD ${object}`);
    if (String(head.headers['x-static-large-object']).toLowerCase() === 'true') {
      await this.remove(container, `${object}?multipart-manifest=delete`);
      return;
    }
    const manifest = head.headers['x-object-manifest'];
    if (typeof manifest === 'string') {
      const [segmentContainer, ...prefix] = manifest.split('/');
      for (const segment of await this.list(decodeURIComponent(segmentContainer), decodeURIComponent(prefix.join('/')))) {
        await this.remove(decodeURIComponent(segmentContainer), segment);
      }
    }
    await this.remove(container, object);
  }

  /** `swift+http(s)://user:key@auth/container/id`, or `swift+config://ref/container/id`: glance_store's forms. */
  private locationOf(imageId: string): string {
    if (this.o.reference) return `swift+config://${this.o.reference}/${this.o.container}/${imageId}`;
    const auth = new URL(this.o.auth.url);
    const scheme = auth.protocol === 'https:' ? 'swift+https' : 'swift+http';
    const where = `${auth.host}${auth.pathname.replace(/\/$/, '')}`;
    return `${scheme}://${quoteCredential(this.o.auth.user)}:${quoteCredential(this.o.auth.key)}@${where}/${this.o.container}/${imageId}`;
  }

  private async putObject(imageId: string, data: Readable, signal?: AbortSignal): Promise<number> {
    // Counted on the way, so no HEAD is needed afterwards; the source's errors still fail the PUT.
    let bytes = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of data as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        yield chunk;
      }
    }
    const res = await this.request('PUT', this.o.container, imageId, {}, Readable.from(counted(), { objectMode: false }), signal);
    await expectStatus('Swift', res, [201], `PUT ${imageId}`);
    drain(res);
    return bytes;
  }

  private async putLargeObject(imageId: string, data: Readable, signal?: AbortSignal): Promise<number> {
    const segments: { path: string; etag: string; size_bytes: number }[] = [];
    const written: string[] = [];
    const segmenter = new Segmenter(data, this.o.chunkSize);
    try {
      do {
        const name = `${imageId}-${String(segments.length + 1).padStart(5, '0')}`;
        const segment = segmenter.next();
        const res = await this.request('PUT', this.o.container, name, {}, segment.stream, signal);
        written.push(name);
        await expectStatus('Swift', res, [201], `PUT segment ${name}`);
        drain(res);
        if (segment.bytes() === 0 && segments.length > 0) break;
        segments.push({ path: `/${this.o.container}/${name}`, etag: String(res.headers.etag ?? '').replace(/"/g, ''), size_bytes: segment.bytes() });
      } while (!segmenter.done);
      const manifest = await this.request('PUT', this.o.container, `${imageId}?multipart-manifest=put`, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(segments)), signal);
      await expectStatus('Swift', manifest, [201], `PUT manifest ${imageId}`);
      drain(manifest);
      return segments.reduce((sum, s) => sum + s.size_bytes, 0);
    } catch (err) {
      for (const name of written) await this.remove(this.o.container, name).catch(() => undefined);
      throw err;
    }
  }

  private async ensureContainer(): Promise<void> {
    const head = await this.request('HEAD', this.o.container, null);
    drain(head);
    if (head.statusCode === 204 || head.statusCode === 200) return;
    if (head.statusCode !== 404) await expectStatus('Swift', head, [204], `HEAD container ${this.o.container}`);
    if (!this.o.createContainer) {
      throw new GlimpseError('service_unavailable', `Swift container ${this.o.container} does not exist (set swift_store_create_container_on_put to create it).`);
    }
    const put = await this.request('PUT', this.o.container, null);
    drain(put);
    await expectStatus('Swift', put, [201, 202], `PUT container ${this.o.container}`);
  }

  private async list(container: string, prefix: string): Promise<string[]> {
    const res = await this.request('GET', container, null, {}, undefined, undefined, `?format=json&prefix=${encodeURIComponent(prefix)}`);
    if (res.statusCode === 404) return [];
    await expectStatus('Swift', res, [200, 204], `list ${container}`);
    return (JSON.parse((await text(res)) || '[]') as { name: string }[]).map((o) => o.name);
  }

  private async remove(container: string, object: string): Promise<void> {
    const res = await this.request('DELETE', container, object);
    drain(res);
    if (res.statusCode !== 404) await expectStatus('Swift', res, [200, 204], `DELETE ${object}`);
  }

  /** One authenticated request; a 401 (expired token) re-authenticates once. */
  private async request(
    method: string,
    container: string,
    object: string | null,
    headers: Record<string, string> = {},
    body?: Readable | Buffer,
    signal?: AbortSignal,
    query = '',
  ): Promise<IncomingMessage> {
    for (let attempt = 0; ; attempt++) {
      const session = await this.login();
      const path = `${encodeURIComponent(container)}${object === null ? '' : `/${encodeObject(object)}`}`;
      const res = await send({ method, url: `${session.storageUrl}/${path}${query}`, headers: { ...headers, 'x-auth-token': session.token }, body, signal });
      // A streamed body cannot be sent twice; only bodiless or buffered requests are retried.
      if (res.statusCode === 401 && attempt === 0 && (body === undefined || Buffer.isBuffer(body))) {
        drain(res);
        this.session = null;
        continue;
      }
      return res;
    }
  }

  private login(): Promise<Session> {
    this.session ??= authenticate(this.o.auth).catch((err: unknown) => {
      this.session = null;
      throw err;
    });
    return this.session;
  }
}

/** Object names keep their `?multipart-manifest=…` query; everything else is path-encoded. */
function encodeObject(object: string): string {
  const [name, query] = object.split('?');
  return `${name.split('/').map(encodeURIComponent).join('/')}${query ? `?${query}` : ''}`;
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
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, password: auth.key, domain: { id: auth.userDomain ?? 'default' } } } },
      scope: { project: { name: project, domain: { id: auth.projectDomain ?? 'default' } } },
    },
  };
  const res = await send({
    method: 'POST',
    url: `${auth.url.replace(/\/$/, '')}/auth/tokens`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = JSON.parse((await text(res)) || '{}') as { token?: { catalog?: { type: string; endpoints: { interface: string; url: string }[] }[] } };
  const token = res.headers['x-subject-token'];
  const endpoint = answer.token?.catalog?.find((s) => s.type === 'object-store')?.endpoints.find((e) => e.interface === 'public');
  if (res.statusCode !== 201 || typeof token !== 'string' || !endpoint) {
    throw new GlimpseError('service_unavailable', `Swift authentication through Keystone failed (${res.statusCode}) at ${auth.url}`);
  }
  return { token, storageUrl: endpoint.url.replace(/\/$/, '') };
}

/** Glance's single-tenant user is `<project>:<user>`. */
function splitTenantUser(user: string): [string, string] {
  const at = user.indexOf(':');
  return at === -1 ? ['', user] : [user.slice(0, at), user.slice(at + 1)];
}
