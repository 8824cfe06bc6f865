/**
 * What the object stores (Swift, S3) share: one HTTP request streaming both
 * ways (a Readable body is piped with backpressure, chunked when its length
 * is unknown; the response comes back unread), status checks that become
 * typed errors, and glance_store's location URI conventions.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { type Readable, pipeline } from 'node:stream';
import { GlimpseError } from '../domain/errors.js';

export interface StoreRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Readable | Buffer | string;
  signal?: AbortSignal;
}

export function send(r: StoreRequest): Promise<IncomingMessage> {
  const url = new URL(r.url);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: r.method, headers: r.headers, signal: r.signal }, resolve);
    req.on('error', reject);
    if (r.body === undefined) req.end();
    else if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      // pipeline, not pipe: a body that failed before the request started must fail the request too.
      pipeline(r.body, req, (err) => {
        if (err) {
          req.destroy(err);
          reject(err);
        }
      });
    }
  });
}

/** Reads a (small) response body as text: error messages, listings, manifests. */
export async function text(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of res) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export function drain(res: IncomingMessage): void {
  res.resume();
}

/** Throws unless the status is one of `ok`: 413 means the store is full, anything else that it is unavailable. */
export async function expectStatus(service: string, res: IncomingMessage, ok: number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode ?? 0)) return;
  const detail = (await text(res).catch(() => '')).slice(0, 300);
  if (res.statusCode === 413) throw new GlimpseError('too_large', `The ${service} store is full or the object too large (${what}).`);
  throw new GlimpseError('service_unavailable', `${service} answered ${res.statusCode} to ${what}${detail ? `: ${detail}` : ''}`);
}

/** Credentials inside a location URI as glance_store quotes them (`/` left as is). */
export function quoteCredential(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/');
}

/**
 * The container (bucket) and object (key) of a glance_store Swift or S3 URI:
 * the last two path parts after the credentials (everything before the last `@`).
 */
export function containerAndObject(location: string): { container: string; object: string } {
  const afterScheme = location.slice(location.indexOf('://') + 3);
  const parts = afterScheme.slice(afterScheme.lastIndexOf('@') + 1).split('/').filter(Boolean);
  if (parts.length < 3) throw new GlimpseError('bad_request', `Invalid object store location ${location.replace(/\/\/[^@]*@/, '//***@')}`);
  return { container: decodeURIComponent(parts[parts.length - 2]), object: decodeURIComponent(parts[parts.length - 1]) };
}
