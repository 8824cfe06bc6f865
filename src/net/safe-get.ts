/**
 * GET (or HEAD) of a URL a client gave, for web-download and the http store:
 * every URL (the first and each redirect) is vetted by the import filter, and
 * the connection goes to the address that was vetted. Returns the response
 * body as a stream; nothing is buffered.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { type ImportFilter, UrlRefused, type VettedUrl, vetUrl } from './url-filter.js';

const MAX_REDIRECTS = 5;
const CONNECT_TIMEOUT_MS = 30_000;

export interface Fetched {
  body: IncomingMessage;
  /** Content-Length, when the server sent one. */
  size: number | null;
  url: string;
}

export interface SafeGetOptions {
  signal?: AbortSignal;
  /** HEAD: only the headers (the size) are wanted. */
  method?: 'GET' | 'HEAD';
  /** An inclusive byte range: a 206 answer is then expected. */
  range?: { start: number; end: number };
}

export async function safeGet(raw: string, filter: ImportFilter, o: SafeGetOptions = {}): Promise<Fetched> {
  let target = raw;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const vetted = await vetUrl(target, filter);
    const res = await request(vetted, o);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      target = new URL(res.headers.location, vetted.url).toString();
      continue;
    }
    if (status !== (o.range ? 206 : 200)) {
      res.resume();
      throw new UrlRefused(`the server answered ${status}`);
    }
    const length = Number(res.headers['content-length']);
    return { body: res, size: Number.isSafeInteger(length) ? length : null, url: target };
  }
  throw new UrlRefused(`more than ${MAX_REDIRECTS} redirects`);
}

function request(vetted: VettedUrl, o: SafeGetOptions): Promise<IncomingMessage> {
  const pinned = pinnedLookup(vetted);
  const client = vetted.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': 'glimpse' };
    if (o.range) headers.range = `bytes=${o.range.start}-${o.range.end}`;
    const req = client.request(vetted.url, { method: o.method ?? 'GET', lookup: pinned, signal: o.signal, timeout: CONNECT_TIMEOUT_MS, headers }, resolve);
    req.on('timeout', () => req.destroy(new UrlRefused('the server did not answer in time')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * POST a small body to a URL a client or operator gave (webhook deliveries):
 * vetted like a GET, the connection pinned to the vetted address, and no
 * redirect followed (a receiver that redirects has not received). Resolves
 * with the status; a refused URL rejects with UrlRefused.
 */
export async function safePost(raw: string, filter: ImportFilter, body: Buffer, headers: Record<string, string>, timeoutMs = 10_000): Promise<number> {
  const vetted = await vetUrl(raw, filter);
  const pinned = pinnedLookup(vetted);
  const client = vetted.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(vetted.url, { method: 'POST', lookup: pinned, timeout: timeoutMs, headers: { 'user-agent': 'glimpse', 'content-length': String(body.length), ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('the receiver did not answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A DNS lookup that answers the vetted address, whatever is asked: the connection goes where the check looked. */
function pinnedLookup(vetted: VettedUrl): LookupFunction {
  return (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: vetted.address, family: vetted.family }]);
    else callback(null, vetted.address, vetted.family);
  };
}
