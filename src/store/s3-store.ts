/**
 * Glance's S3 store for any S3-compatible service (AWS, Ceph RGW, Swift's
 * s3api, MinIO): one bucket, object key = image id, location
 * `s3[+https]://<access key>:<secret key>@<host>/<bucket>/<id>` as
 * glance_store writes it. Requests are signed with AWS Signature V4.
 *
 * Data is cut into parts of `s3_store_large_object_chunk_size`: an image
 * that fits in one part is one PutObject, a larger one a multipart upload,
 * part after part. A part is the one thing held in memory (S3 needs each
 * part's length up front), so memory is bounded by the part size, not the
 * image size (glance_store buffers whole images under 100 MB).
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { S3StoreOptions } from '../config/options.js';
import { GlimpseError, conflict, notFound } from '../domain/errors.js';
import { containerAndObject, drain, expectStatus, quoteCredential, send, text } from './http-client.js';
import type { ByteRange, ImageStore } from './image-store.js';
import { LEASE_SUFFIX, type LeaseObject, ageFromHeaders, whileLeased, writerState } from './lease.js';

const UNSIGNED = 'UNSIGNED-PAYLOAD';

export class S3Store implements ImageStore {
  readonly type = 's3';
  private readonly endpoint: URL;
  private readonly region: string;

  constructor(
    readonly id: string,
    private readonly o: S3StoreOptions,
    private readonly runtime: { heartbeatMs: number },
  ) {
    this.endpoint = new URL(/^https?:\/\//.test(o.host) ? o.host : `https://${o.host}`);
    this.region = o.region ?? regionOf(this.endpoint.hostname);
  }

  async add(imageId: string, data: Readable, options: { signal?: AbortSignal } = {}) {
    await this.ensureBucket();
    const head = await this.request('HEAD', imageId);
    drain(head);
    if (head.statusCode === 200) throw conflict(`Image data for ${imageId} already exists in store ${this.id}`);
    const size = await whileLeased(this.lease(imageId), this.runtime.heartbeatMs, () => this.putData(imageId, data, options.signal));
    return { location: this.objectLocation(imageId), size };
  }

  /**
   * For an image stuck in `saving`: false while a writer's lease is fresh;
   * else aborts what a dead writer left (multipart uploads), removes an object
   * never committed, and answers true. Multipart uploads without any lease
   * were started by a writer that keeps none (glance-api): not ours to judge.
   */
  async releaseAbandoned(imageId: string): Promise<boolean> {
    const lease = this.lease(imageId);
    const state = await writerState(lease, this.runtime.heartbeatMs);
    if (state === 'live') return false;
    const listing = await this.request('GET', null, { query: { uploads: '', prefix: imageId } });
    await expectStatus('S3', listing, [200], `ListMultipartUploads ${imageId}`);
    const uploads = [...(await text(listing)).matchAll(/<Upload>.*?<Key>([^<]+)<\/Key>.*?<UploadId>([^<]+)<\/UploadId>.*?<\/Upload>/gs)]
      .filter(([, key]) => key === imageId)
      .map(([, , uploadId]) => uploadId);
    if (state === 'none' && uploads.length > 0) return false;
    for (const uploadId of uploads) {
      const abort = await this.request('DELETE', imageId, { query: { uploadId } });
      drain(abort);
    }
    await this.delete(this.objectLocation(imageId));
    await lease.remove();
    return true;
  }

  private async putData(imageId: string, data: Readable, signal?: AbortSignal): Promise<number> {
    const parts = partsOf(data, this.o.chunkSize);
    const first = await parts.next();
    const second = first.done ? first : await parts.next();
    if (second.done) {
      const body = first.done ? Buffer.alloc(0) : first.value;
      const res = await this.request('PUT', imageId, { body, signal });
      await expectStatus('S3', res, [200], `PutObject ${imageId}`);
      drain(res);
      return body.length;
    }
    return this.multipart(imageId, [first.value as Buffer, second.value], parts, signal);
  }

  private lease(imageId: string): LeaseObject {
    const key = `${imageId}${LEASE_SUFFIX}`;
    return {
      write: async () => {
        const res = await this.request('PUT', key, { body: Buffer.from(`${hostname()} ${process.pid}\n`) });
        drain(res);
        await expectStatus('S3', res, [200], `PutObject ${key}`);
      },
      age: async () => {
        const res = await this.request('HEAD', key);
        drain(res);
        if (res.statusCode === 404) return null;
        await expectStatus('S3', res, [200], `HeadObject ${key}`);
        return ageFromHeaders(res.headers);
      },
      remove: async () => {
        const res = await this.request('DELETE', key);
        drain(res);
      },
    };
  }

  /** An s3 URI naming this store's bucket (reads and deletes act in this bucket, so another one is never claimed). */
  owns(location: string): boolean {
    if (!/^s3(\+https?)?:\/\//.test(location)) return false;
    try {
      return containerAndObject(location).container === this.o.bucket;
    } catch {
      return false;
    }
  }

  async get(location: string, range?: ByteRange): Promise<Readable> {
    const { object: key } = containerAndObject(location);
    const res = await this.request('GET', key, { headers: range ? { range: `bytes=${range.start}-${range.end}` } : {} });
    if (res.statusCode === 404) {
      drain(res);
      throw notFound(`Image data not found at ${key} in store ${this.id}`);
    }
    await expectStatus('S3', res, [200, 206], `GetObject ${key}`);
    return res;
  }

  async delete(location: string): Promise<void> {
    const { object: key } = containerAndObject(location);
    const res = await this.request('DELETE', key);
    drain(res);
    if (res.statusCode !== 404) await expectStatus('S3', res, [200, 204], `DeleteObject ${key}`);
  }

  private objectLocation(imageId: string): string {
    const scheme = this.endpoint.protocol === 'https:' ? 's3+https' : 's3';
    return `${scheme}://${quoteCredential(this.o.accessKey)}:${quoteCredential(this.o.secretKey)}@${this.endpoint.host}/${this.o.bucket}/${imageId}`;
  }

  private async multipart(key: string, firstParts: Buffer[], rest: AsyncGenerator<Buffer>, signal?: AbortSignal): Promise<number> {
    const created = await this.request('POST', key, { query: { uploads: '' }, body: Buffer.alloc(0), signal });
    await expectStatus('S3', created, [200], `CreateMultipartUpload ${key}`);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await text(created))?.[1];
    if (!uploadId) throw new GlimpseError('service_unavailable', `S3 gave no UploadId for ${key}`);
    const etags: string[] = [];
    let size = 0;
    try {
      const upload = async (part: Buffer) => {
        const res = await this.request('PUT', key, { query: { partNumber: String(etags.length + 1), uploadId }, body: part, signal });
        await expectStatus('S3', res, [200], `UploadPart ${etags.length + 1} of ${key}`);
        drain(res);
        etags.push(String(res.headers.etag));
        size += part.length;
      };
      for (const part of firstParts) await upload(part);
      for await (const part of rest) await upload(part);
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const done = await this.request('POST', key, { query: { uploadId }, body: Buffer.from(xml), signal });
      await expectStatus('S3', done, [200], `CompleteMultipartUpload ${key}`);
      const answer = await text(done);
      if (answer.includes('<Error>')) throw new GlimpseError('service_unavailable', `S3 could not complete ${key}: ${answer.slice(0, 200)}`);
      return size;
    } catch (err) {
      const abort = await this.request('DELETE', key, { query: { uploadId } }).catch(() => null);
      if (abort) drain(abort);
      throw err;
    }
  }

  private async ensureBucket(): Promise<void> {
    const head = await this.request('HEAD', null);
    drain(head);
    if (head.statusCode === 200) return;
    if (head.statusCode !== 404) await expectStatus('S3', head, [200], `HeadBucket ${this.o.bucket}`);
    if (!this.o.createBucket) {
      throw new GlimpseError('service_unavailable', `S3 bucket ${this.o.bucket} does not exist (set s3_store_create_bucket_on_put to create it).`);
    }
    const put = await this.request('PUT', null, { body: Buffer.alloc(0) });
    drain(put);
    await expectStatus('S3', put, [200], `CreateBucket ${this.o.bucket}`);
  }

  /** A SigV4-signed request to the bucket (key null) or an object; buffered bodies are hashed, none are streamed. */
  private request(
    method: string,
    key: string | null,
    r: { query?: Record<string, string>; headers?: Record<string, string>; body?: Buffer; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage> {
    const virtual = this.o.urlFormat === 'virtual' || (this.o.urlFormat === 'auto' && dnsCompatible(this.o.bucket) && !isIP(this.endpoint.hostname) && this.endpoint.hostname !== 'localhost');
    const host = virtual ? `${this.o.bucket}.${this.endpoint.host}` : this.endpoint.host;
    const path = `${virtual ? '' : `/${awsEncode(this.o.bucket)}`}${key === null ? (virtual ? '/' : '') : `/${awsEncode(key)}`}`;
    const query = Object.entries(r.query ?? {})
      .map(([k, v]) => [awsEncode(k), awsEncode(v)])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const payload = r.body ? createHash('sha256').update(r.body).digest('hex') : method === 'GET' || method === 'HEAD' || method === 'DELETE' ? sha256('') : UNSIGNED;
    const headers: Record<string, string> = { ...(r.headers ?? {}), host, 'x-amz-content-sha256': payload, 'x-amz-date': amzDate(new Date()) };
    if (r.body) headers['content-length'] = String(r.body.length);
    headers.authorization = this.sign(method, path || '/', query, headers);
    return send({ method, url: `${this.endpoint.protocol}//${host}${path || '/'}${query ? `?${query}` : ''}`, headers, body: r.body, signal: r.signal });
  }

  private sign(method: string, path: string, query: string, headers: Record<string, string>): string {
    const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
    const canonicalHeaders = names.map((n) => `${n}:${String(headers[n] ?? headers[Object.keys(headers).find((h) => h.toLowerCase() === n)!]).trim()}\n`).join('');
    const signed = names.join(';');
    const canonical = [method, path, query, canonicalHeaders, signed, headers['x-amz-content-sha256']].join('\n');
    const date = headers['x-amz-date'];
    const scope = `${date.slice(0, 8)}/${this.region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
    let k: Buffer = hmac(`AWS4${this.o.secretKey}`, date.slice(0, 8));
    for (const part of [this.region, 's3', 'aws4_request']) k = hmac(k, part);
    return `AWS4-HMAC-SHA256 Credential=${this.o.accessKey}/${scope}, SignedHeaders=${signed}, Signature=${hmac(k, toSign).toString('hex')}`;
  }
}

/** Consecutive parts of exactly `size` bytes (the last may be shorter), one held at a time. */
async function* partsOf(data: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let held = 0;
  for await (const chunk of data as AsyncIterable<Buffer>) {
    let rest = chunk;
    while (held + rest.length >= size) {
      const take = size - held;
      pending.push(rest.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      held = 0;
      rest = rest.subarray(take);
    }
    if (rest.length) {
      pending.push(rest);
      held += rest.length;
    }
  }
  if (held > 0) yield Buffer.concat(pending);
}

/** AWS's region from its endpoint names (`s3.eu-west-1.amazonaws.com`, `s3-eu-west-1…`); else us-east-1. */
function regionOf(hostname: string): string {
  return /^s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(hostname)?.[1] ?? 'us-east-1';
}

const dnsCompatible = (bucket: string) => /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
const awsEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const amzDate = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
