/**
 * A small HTTP client for tests: identities as keystonemiddleware's headers,
 * JSON by default. Over a real socket, or, for a server composed in-process
 * (helpers/server.ts composeTestServer), through Fastify's inject().
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';

/** In-process servers by the base URL their tests use: requests to these never touch a socket. */
export const injectTargets = new Map<string, FastifyInstance>();

export interface Identity {
  project?: string;
  user?: string;
  roles?: string[];
  /** A Keystone token: sent as X-Auth-Token instead of identity headers. */
  token?: string;
}

export const ADMIN: Identity = { project: 'admin-project', user: 'admin-user', roles: ['admin'] };
export const ALPHA_MEMBER: Identity = { project: 'alpha', user: 'alpha-member', roles: ['member'] };
export const ALPHA_READER: Identity = { project: 'alpha', user: 'alpha-reader', roles: ['reader'] };
export const BETA_MEMBER: Identity = { project: 'beta', user: 'beta-member', roles: ['member'] };
export const ANONYMOUS: Identity = {};

export interface Response {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface RequestOptions {
  as?: Identity;
  body?: unknown;
  raw?: string | Buffer | Uint8Array;
  headers?: Record<string, string>;
}

export class Client {
  /** `target` is the server's URL, or where to find it once a suite's server is up. */
  constructor(
    private readonly target: string | (() => string),
    private readonly defaultIdentity: Identity | null = null,
  ) {}

  get baseUrl(): string {
    return typeof this.target === 'string' ? this.target : this.target();
  }

  as(identity: Identity): Client {
    return new Client(this.target, identity);
  }

  async request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...identityHeaders(o.as ?? this.defaultIdentity) };
    let body: string | Buffer | Uint8Array | undefined;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    } else if (o.raw !== undefined) {
      body = o.raw;
    }
    Object.assign(headers, o.headers);
    const res = await this.send(method, path, headers, body);
    let json: unknown = undefined;
    if ((res.headers.get('content-type') ?? '').includes('json') && res.text) json = JSON.parse(res.text);
    return { ...res, json };
  }

  private async send(method: string, path: string, headers: Record<string, string>, body: string | Buffer | Uint8Array | undefined) {
    const app = injectTargets.get(this.baseUrl);
    if (app) {
      const res = await app.inject({ method: method as 'GET', url: path, headers: { ...headers, host: new URL(this.baseUrl).host }, payload: body as string | Buffer | undefined });
      const answered = new Headers();
      for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) answered.set(name, Array.isArray(value) ? value.join(', ') : String(value));
      return { status: res.statusCode, headers: answered, text: res.body };
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body as BodyInit | undefined });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  get(path: string, o?: RequestOptions) {
    return this.request('GET', path, o);
  }
  post(path: string, body?: unknown, o?: RequestOptions) {
    return this.request('POST', path, { ...o, body });
  }
  put(path: string, o?: RequestOptions) {
    return this.request('PUT', path, o);
  }
  delete(path: string, o?: RequestOptions) {
    return this.request('DELETE', path, o);
  }
  patch(path: string, ops: unknown, o: RequestOptions & { mediaType?: string } = {}) {
    return this.request('PATCH', path, {
      ...o,
      raw: JSON.stringify(ops),
      headers: { 'content-type': o.mediaType ?? 'application/openstack-images-v2.1-json-patch', ...o.headers },
    });
  }

  /** Creates an image and returns its JSON, failing loudly if the create did not succeed. */
  async createImage(body: Record<string, unknown> = {}, o?: RequestOptions): Promise<Record<string, any>> {
    const res = await this.post('/v2/images', body, o);
    if (res.status !== 201) throw new Error(`image create failed: ${res.status} ${res.text}`);
    return res.json;
  }

  upload(id: string, data: Buffer | string, o: RequestOptions = {}) {
    return this.request('PUT', `/v2/images/${id}/file`, {
      ...o,
      raw: data,
      headers: { 'content-type': 'application/octet-stream', ...o.headers },
    });
  }
}

export function identityHeaders(identity: Identity | null): Record<string, string> {
  if (identity?.token) return { 'x-auth-token': identity.token };
  if (!identity || (!identity.project && !identity.user)) return {};
  const h: Record<string, string> = { 'x-identity-status': 'Confirmed' };
  if (identity.project) h['x-project-id'] = identity.project;
  if (identity.user) h['x-user-id'] = identity.user;
  if (identity.roles) h['x-roles'] = identity.roles.join(',');
  return h;
}

export interface RawResponse {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * A request sent as given: the path's bytes unencoded and unchecked, any
 * body bytes, only the headers named (no Accept unless given). For what
 * fetch would refuse to send or would normalise.
 */
export function rawRequest(url: string, method: string, path: string, body: Buffer | null = null, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}
