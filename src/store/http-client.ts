/**
 * One HTTP request to an object store, streaming both ways: a Readable body
 * is piped with backpressure (chunked when its length is unknown), the
 * response comes back unread for the caller to stream or drain.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { type Readable, pipeline } from 'node:stream';

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
