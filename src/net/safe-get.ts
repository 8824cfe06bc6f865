/**
 * GET for web-download: every URL (the first and each redirect) is vetted
 * by the import filter, and the connection goes to the address that was
 * vetted. Returns the response body as a stream; nothing is buffered.
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

export async function safeGet(raw: string, filter: ImportFilter, signal?: AbortSignal): Promise<Fetched> {
  let target = raw;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const vetted = await vetUrl(target, filter);
    const res = await request(vetted, signal);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      target = new URL(res.headers.location, vetted.url).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new UrlRefused(`the server answered ${status}`);
    }
    const length = Number(res.headers['content-length']);
    return { body: res, size: Number.isSafeInteger(length) ? length : null, url: target };
  }
  throw new UrlRefused(`more than ${MAX_REDIRECTS} redirects`);
}

function request(vetted: VettedUrl, signal?: AbortSignal): Promise<IncomingMessage> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: vetted.address, family: vetted.family }]);
    else callback(null, vetted.address, vetted.family);
  };
  const client = vetted.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(vetted.url, { lookup: pinned, signal, timeout: CONNECT_TIMEOUT_MS, headers: { 'user-agent': 'glimpse-web-download' } }, resolve);
    req.on('timeout', () => req.destroy(new UrlRefused('the server did not answer in time')));
    req.on('error', reject);
  });
}
