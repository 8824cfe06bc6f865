import { Socket } from 'node:net';
/** Image bytes: PUT and GET /v2/images/{id}/file. */
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, rangeNotSatisfiable, unsupportedMediaType } from '../../domain/errors.js';
import type { ImageDataService, IncomingData, RangeRequest } from '../../services/image-data.js';
import { routes } from '../routing.js';

type IdParams = { id: string };

export interface DataRouteOptions {
  /** An upload that sends nothing for this long is cut (its image goes back to queued). */
  bodyIdleMs: number;
  /** The connection's usual idle timeout, restored once the body has arrived. */
  clientSocketMs: number;
}

export function imageDataRoutes(app: FastifyInstance, data: ImageDataService, o: DataRouteOptions): void {
  // Leave request bodies unread here: the service streams them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  routes(app, '/v2/images/:id/file', {
    PUT: {
      body: true,
      handler: async (request, reply) => {
        const outcome = await data.upload(request.ctx, (request.params as IdParams).id, incoming(request, o));
        // RFC 7234's miscellaneous persistent warning: the call succeeded, but not as the client may think.
        if (outcome === 'empty') reply.header('warning', '299 glimpse "The upload was empty: nothing was stored and the image stays queued"');
        reply.code(204);
      },
    },
    GET: async (request, reply) => {
      const download = await data.download(request.ctx, (request.params as IdParams).id, requestedRange(request), request.ip);
      const { image, body, range } = download;
      if (!body) return reply.code(204).send();
      reply.header('content-type', 'application/octet-stream');
      if (image.checksum) reply.header('content-md5', image.checksum);
      if (range) {
        reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${range.total}`)
          .header('content-length', range.end - range.start + 1);
      } else {
        reply.code(200).header('content-length', image.size);
      }
      return reply.send(body);
    },
  });

  routes(app, '/v2/images/:id/stage', {
    PUT: {
      body: true,
      handler: async (request, reply) => {
        await data.stage(request.ctx, (request.params as IdParams).id, incoming(request, o));
        reply.code(204);
      },
    },
  });
}

type StoreParams = { store: string; id: string };

/** `DELETE /v2/stores/{store_id}/{image_id}` (multi-store). */
export function storeRoutes(app: FastifyInstance, data: ImageDataService): void {
  routes(app, '/v2/stores/:store/:id', {
    DELETE: async (request, reply) => {
      const { store, id } = request.params as StoreParams;
      await data.deleteFromStore(request.ctx, store, id);
      reply.code(204);
    },
  });
}

/**
 * The request body as a stream, with what the client declared about it;
 * aborted if the client goes away. The service reads a stream of its own,
 * fed from the request: when the service gives up on it (a limit, a refused
 * format), the request itself stays whole, so the error handler can read and
 * drop the rest and the client, still sending, reads the answer.
 */
function incoming(request: FastifyRequest, o: DataRouteOptions): IncomingData {
  assertOctetStream(request);
  const abort = new AbortController();
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  request.raw.pipe(body);
  request.raw.once('error', (err) => body.destroy(err));
  request.raw.once('close', () => {
    if (request.raw.complete) return;
    const gone = new Error('client disconnected during upload');
    abort.abort(gone);
    body.destroy(gone);
  });
  // While the body arrives the server sends nothing, so the socket's idle
  // timer is the body's: a stalled upload is aborted and its socket closed.
  // (A request injected in-process has no socket, and no idle time to bound.)
  const socket = request.raw.socket;
  if (socket instanceof Socket) {
    const stalled = () => {
      abort.abort(new Error(`no upload data for ${o.bodyIdleMs / 1000} s`));
      socket.destroy();
    };
    socket.setTimeout(o.bodyIdleMs, stalled);
    request.raw.once('end', () => {
      socket.off('timeout', stalled);
      socket.setTimeout(o.clientSocketMs);
    });
  }
  const length = request.headers['content-length'];
  const store = request.headers['x-image-meta-store'];
  return {
    body,
    store: typeof store === 'string' ? store : null,
    declaredSize: declaredSize(request),
    contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
    signal: abort.signal,
  };
}

function assertOctetStream(request: FastifyRequest): void {
  const media = (request.headers['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
  if (media !== 'application/octet-stream') {
    throw unsupportedMediaType(`The request media type ${media || '(none)'} is not supported: image data must be application/octet-stream.`);
  }
}

/** `x-openstack-image-size` (what openstacksdk sends), else Content-Length, else unknown. */
function declaredSize(request: FastifyRequest): number | null {
  const header = request.headers['x-openstack-image-size'];
  if (header !== undefined) {
    const value = String(header).trim();
    if (!/^\d+$/.test(value)) throw badRequest(`x-openstack-image-size must be a non-negative integer, got "${value}"`);
    return Number(value);
  }
  return null;
}

/** One `Range: bytes=…` (several → 400), or the legacy `Content-Range: bytes a-b/*`. */
function requestedRange(request: FastifyRequest): RangeRequest | null {
  const range = request.headers.range;
  if (range !== undefined) {
    const spec = /^\s*bytes\s*=\s*(.*)$/i.exec(range);
    if (!spec) throw rangeNotSatisfiable(`Invalid Range header: ${range}`);
    if (spec[1].includes(',')) throw badRequest('Multiple ranges are not supported.');
    const m = /^(\d*)-(\d*)$/.exec(spec[1].trim());
    if (!m || (m[1] === '' && m[2] === '')) throw rangeNotSatisfiable(`Invalid Range header: ${range}`);
    return { start: m[1] === '' ? null : Number(m[1]), end: m[2] === '' ? null : Number(m[2]) };
  }
  const legacy = request.headers['content-range'];
  if (legacy !== undefined) {
    const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(legacy);
    if (!m) throw rangeNotSatisfiable(`Invalid Content-Range header: ${legacy}`);
    return { start: Number(m[1]), end: Number(m[2]), strictEnd: true };
  }
  return null;
}
