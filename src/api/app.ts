/**
 * The HTTP application: request ids, CORS, identity, routes and the single
 * error handler. It never listens by itself (see `server.ts`).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Socket } from 'node:net';
import Fastify, {
  type FastifyBaseLogger, LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerFactory, type FastifyServerOptions,
} from 'fastify';
import type { Logger } from 'pino';
import type { IdentityResolver } from '../auth/identity.js';
import type { CorsConfig } from '../config/options.js';
import { GlimpseError, badRequest, notFound } from '../domain/errors.js';
import { isDatabaseBusy } from '../db/connection.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Delivery } from '../db/webhook-outbox.js';
import type { RequestContext } from '../auth/context.js';
import { assertStorable, parseJsonBody } from './json-body.js';
import type { ImageAccess } from '../services/image-access.js';
import type { ImageDataService } from '../services/image-data.js';
import type { ImportService } from '../services/import/service.js';
import type { ImagesService } from '../services/images.js';
import type { ImageCacheService } from '../services/image-cache.js';
import type { LifecycleService } from '../services/lifecycle.js';
import type { RetentionService } from '../services/retention.js';
import type { InsightService } from '../services/insight.js';
import type { LocationsService } from '../services/locations.js';
import type { MembersService } from '../services/members.js';
import type { MetadefsService } from '../services/metadefs.js';
import type { TasksService } from '../services/tasks.js';
import type { JsonSchema } from '../domain/schemas.js';
import { applyCors } from './cors.js';
import { STATUS, renderError } from './errors.js';
import { type DashboardOptions, dashboardRoutes } from './routes/dashboard.js';
import { imageDataRoutes, storeRoutes } from './routes/image-data.js';
import { imageRoutes } from './routes/images.js';
import { cacheRoutes } from './routes/cache.js';
import { glimpseRoutes } from './routes/glimpse.js';
import { lifecycleRoutes } from './routes/lifecycle.js';
import { insightRoutes } from './routes/insight.js';
import { locationRoutes } from './routes/locations.js';
import { memberRoutes } from './routes/members.js';
import { metadefRoutes } from './routes/metadefs/index.js';
import { type InfoOptions, infoRoutes } from './routes/info.js';
import { schemaRoutes } from './routes/schemas.js';
import { taskRoutes } from './routes/tasks.js';
import { rewriteUrl, versionRoutes } from './routes/versions.js';
import type { WireOptions } from './wire.js';

export interface AppDeps {
  logger: Logger;
  identity: IdentityResolver;
  images: ImagesService;
  access: ImageAccess;
  imageData: ImageDataService;
  members: MembersService;
  imports: ImportService;
  locations: LocationsService;
  cache: ImageCacheService;
  lifecycle: LifecycleService;
  retention: RetentionService;
  insight: InsightService;
  tasks: TasksService;
  metadefs: MetadefsService;
  limits: { limitParamDefault: number; apiLimitMax: number };
  imageSchema: JsonSchema;
  wire: WireOptions;
  info: InfoOptions;
  cors: CorsConfig | null;
  publicEndpoint: string | null;
  maxRequestIdLength: number;
  storeIds: string[] | null;
  /** Keystone mode: the `WWW-Authenticate: Keystone uri=…` every 401 carries. */
  wwwAuthenticate?: string | null;
  /** The web dashboard; null with --no-dashboard. */
  dashboard?: DashboardOptions | null;
  /** `GET /v2/glimpse/webhooks/deliveries`: the most recent webhook deliveries (policy manage_webhooks). */
  webhookDeliveries: (ctx: RequestContext) => Promise<Delivery[]>;
  /** This node's series, and who may read them at `/metrics`. */
  metrics: { registry: Metrics; access: 'loopback' | 'all' | 'off' };
  /** `/healthcheck`: null when healthy, else why not. */
  health?: () => Promise<string | null>;
  healthDetails?: (() => Promise<Record<string, unknown>>) | null;
  /** `GET /v2/glimpse/health`: the same details for admins, through the API's identity and policy. */
  adminHealth: (ctx: RequestContext) => Promise<Record<string, unknown>>;
  timeouts?: { clientSocketMs: number; jsonBodyMs: number; bodyIdleMs: number };
}

const JSON_BODY_LIMIT = 16 * 1024 * 1024;

export function buildApp(deps: AppDeps): FastifyInstance {
  const multiStore = deps.storeIds !== null;
  const app = Fastify(fastifyOptions(deps, multiStore));
  requestHeaders(app, deps);
  glanceErrors(app, deps);
  metricsRoutes(app, deps.metrics);
  versionRoutes(app, { publicEndpoint: deps.publicEndpoint, multiStore, cache: deps.cache.enabled, health: deps.health, healthDetails: deps.healthDetails });
  if (deps.dashboard) dashboardRoutes(app, deps.dashboard);
  app.register(async (api) => apiRoutes(api, deps));
  return app;
}

function fastifyOptions(deps: AppDeps, multiStore: boolean): FastifyServerOptions & { serverFactory: FastifyServerFactory } {
  return {
    loggerInstance: deps.logger as FastifyBaseLogger,
    // The access log below replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // Tags and property names travel in paths. Any length reaches the route,
    // whose own checks answer (404 for an id that cannot exist), never a 414.
    routerOptions: { maxParamLength: 65_536 },
    // A path that does not decode (`%ff`): Glance's router would match nothing.
    frameworkErrors: (_error, request, reply) => {
      const rendered = renderError(404, 'The resource could not be found.', request.headers.accept);
      (reply as FastifyReply).code(404).header('x-openstack-request-id', request.id).type(rendered.contentType).send(rendered.body);
    },
    bodyLimit: JSON_BODY_LIMIT,
    genReqId: (req) => requestId(req.headers['x-openstack-request-id']),
    rewriteUrl: (req) => rewriteUrl(req.url ?? '/', { multiStore, cache: deps.cache.enabled }),
    // Fastify leaves timeouts to a server it did not create: all are set here.
    // No request timeout: multi-GiB uploads take as long as they take. A
    // keep-alive longer than clients' and load balancers', so the server is
    // never the side that closes an idle connection a client is reusing.
    // 1 MiB socket and request buffers: with Node's 16 KiB default an upload
    // stalls the socket after every 64 KiB read.
    // `client_socket_timeout` as Glance's: a connection with nothing sent
    // either way for that long is closed (uploads that stall are cut sooner,
    // by the body idle timeout of the data routes).
    serverFactory: (handler) => {
      const server = http.createServer({ highWaterMark: 1024 * 1024, requestTimeout: 0, keepAliveTimeout: 75_000, headersTimeout: 60_000 }, handler);
      server.setTimeout(deps.timeouts?.clientSocketMs ?? 900_000);
      server.on('clientError', answerUnparsable);
      return server;
    },
  };
}

/**
 * One line per request, as oslo's access log has it: request id (pino's
 * reqId), caller, method, path (no query string: it can carry names people
 * search for), status, bytes sent and duration. Tokens and other headers
 * are never logged.
 */
function accessLog(request: FastifyRequest, reply: FastifyReply): void {
  const ctx = (request as FastifyRequest & { ctx?: RequestContext }).ctx;
  request.log.info(
    {
      user: ctx?.userId ?? null,
      project: ctx?.projectId ?? null,
      method: request.method,
      path: request.url.split('?', 1)[0],
      status: reply.statusCode,
      bytes: reply.getHeader('content-length') === undefined ? null : Number(reply.getHeader('content-length')),
      ms: Math.round(reply.elapsedTime),
    },
    `${request.method} ${request.url.split('?', 1)[0]} ${reply.statusCode}`,
  );
}

/**
 * Counts every answer by method, route template (never the raw path: ids
 * would make a series per image) and status, with its latency; serves the
 * series at `/metrics` to loopback clients only unless configured otherwise.
 */
function metricsRoutes(app: FastifyInstance, o: AppDeps['metrics']): void {
  app.addHook('onResponse', async (request, reply) => {
    accessLog(request, reply);
    const route = request.routeOptions.url ?? 'unmatched';
    o.registry.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    o.registry.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (request, reply) => {
    const loopback = /^(127\.|::1$|::ffff:127\.)/.test(request.socket.remoteAddress ?? '');
    if (o.access === 'off' || (o.access === 'loopback' && !loopback)) throw notFound('The resource could not be found.');
    return reply.type(o.registry.contentType).send(await o.registry.text());
  });
}

/** Every answer carries its request id; an overlong one, or an unstorable query, is refused first. CORS, when configured. */
function requestHeaders(app: FastifyInstance, deps: AppDeps): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
    assertStorableQuery(request.url);
    const incoming = request.headers['x-openstack-request-id'];
    if (typeof incoming === 'string' && incoming.length > deps.maxRequestIdLength) {
      throw new GlimpseError('header_too_large', `x-openstack-request-id is longer than ${deps.maxRequestIdLength} characters.`);
    }
  });
  if (deps.cors) {
    const cors = deps.cors;
    app.addHook('onRequest', async (request, reply) => applyCors(cors, request, reply));
  }
}

/** The one place an error becomes an answer: Glance's status and body, by the error's kind. */
function glanceErrors(app: FastifyInstance, deps: AppDeps): void {
  // Refused bodies still being read and dropped: a closing server has nothing
  // left to say on their connections, and does not wait for their clients.
  const draining = new Set<Socket>();
  app.addHook('preClose', async () => {
    for (const socket of draining) socket.destroy();
  });
  app.setErrorHandler((error, request, reply) => {
    const known = toGlimpseError(error);
    const status = known ? STATUS[known.kind] : 500;
    // Every 5xx says why, with its stack and request id (request.log carries the id).
    if (!known) request.log.error({ err: error }, 'unexpected error');
    else if (status >= 500) request.log.warn({ err: error }, `answered ${status}: ${known.message}`);
    const explanation = known?.message ?? 'The server has either erred or is incapable of performing the requested operation.';
    const rendered = renderError(status, explanation, request.headers.accept);
    for (const [name, value] of Object.entries(known?.headers ?? {})) reply.header(name, value);
    if (status === 401 && deps.wwwAuthenticate) reply.header('www-authenticate', deps.wwwAuthenticate);
    // Refused before or while its body arrives (an upload over a limit, say):
    // answer, and read and drop the rest of the body (bounded) so a client
    // still sending gets to read the answer. No `Connection: close`: Node
    // would close the socket as soon as the answer is out, and the client's
    // next write would fail with a broken pipe instead.
    if (!request.raw.complete) discardThenClose(request.raw, deps.timeouts?.bodyIdleMs ?? 60_000, draining);
    return reply.code(status).type(rendered.contentType).send(rendered.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const rendered = renderError(404, 'The resource could not be found.', request.headers.accept);
    return reply.code(404).type(rendered.contentType).send(rendered.body);
  });
}

/** The authenticated API: the caller's identity first, then JSON routes, and the data routes with their own body handling. */
async function apiRoutes(api: FastifyInstance, deps: AppDeps): Promise<void> {
  api.decorateRequest('ctx', null as never);
  api.addHook('onRequest', async (request) => {
    request.ctx = await deps.identity(request.headers, request.id);
  });
  api.addHook('preValidation', async (request) => assertStorableParams(request));
  api.register(async (json) => {
    jsonBodies(json, deps.timeouts?.jsonBodyMs ?? 60_000);
    imageRoutes(json, {
      images: deps.images,
      access: deps.access,
      wire: deps.wire,
      publicEndpoint: deps.publicEndpoint,
      enabledImportMethods: deps.info.enabledImportMethods,
      storeIds: deps.storeIds,
    });
    memberRoutes(json, deps.members);
    locationRoutes(json, deps.locations);
    cacheRoutes(json, deps.cache);
    glimpseRoutes(json, deps);
    lifecycleRoutes(json, { lifecycle: deps.lifecycle, retention: deps.retention, access: deps.access, wire: deps.wire });
    insightRoutes(json, deps.insight);
    taskRoutes(json, deps.imports, deps.tasks, deps.publicEndpoint);
    storeRoutes(json, deps.imageData);
    metadefRoutes(json, deps.metadefs, deps.limits, deps.publicEndpoint);
    schemaRoutes(json, deps.imageSchema);
    infoRoutes(json, deps.info);
  });
  api.register(async (data) =>
    imageDataRoutes(data, deps.imageData, { bodyIdleMs: deps.timeouts?.bodyIdleMs ?? 60_000, clientSocketMs: deps.timeouts?.clientSocketMs ?? 900_000 }),
  );
}

/**
 * Glance parses JSON bodies whatever their Content-Type says (see
 * json-body.ts for what is refused). A body still arriving after
 * `timeoutMs` is cut: a client dripping bytes cannot hold a connection.
 */
function jsonBodies(app: FastifyInstance, timeoutMs: number): void {
  app.removeAllContentTypeParsers();
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.complete) return;
    // Unreferenced, and stopped once the answer is out: a timer never outlives its request.
    const timer = setTimeout(() => request.raw.destroy(new Error('request body timed out')), timeoutMs).unref();
    const stop = () => clearTimeout(timer);
    request.raw.once('end', stop);
    request.raw.once('close', stop);
    reply.raw.once('close', stop);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request: FastifyRequest, bytes: string | Buffer, done) => {
    try {
      done(null, parseJsonBody(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/**
 * Path parameters and query values that no database row can hold (NUL,
 * surrogates: 4-byte UTF-8) name nothing: 404 on a read, 400 on a write.
 * Checked before any route touches the database with them.
 */
function assertStorableParams(request: FastifyRequest): void {
  for (const value of Object.values((request.params ?? {}) as Record<string, string>)) {
    try {
      assertStorable(value, 'the path');
    } catch (err) {
      if (['GET', 'HEAD', 'DELETE'].includes(request.method)) throw notFound('The resource could not be found.');
      throw badRequest(`The path cannot name a stored resource: ${(err as Error).message.replace(/^JSON body: the path /, '')}`);
    }
  }
}

function assertStorableQuery(url: string): void {
  const q = url.indexOf('?');
  if (q === -1) return;
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    try {
      assertStorable(key, 'a query parameter name');
      assertStorable(value, `query parameter ${key}`);
    } catch (err) {
      throw badRequest((err as Error).message.replace(/^JSON body: /, ''));
    }
  }
}

/**
 * A request Node cannot parse (headers too large, a malformed request line)
 * never reaches Fastify: it is answered here, in Glance's error shape (JSON:
 * the request's Accept header is part of what could not be read).
 */
function answerUnparsable(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const explanation = status === 431 ? 'The request line or headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request could not be parsed.';
  const { contentType, body } = renderError(status, explanation, 'application/json');
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\ncontent-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Up to 1 GiB or 30 s of an unread body are read and dropped; past either
 * bound the socket is closed. Clients that send a whole body before reading
 * the answer (glanceclient, openstacksdk) then read it instead of a broken
 * pipe. Nothing is kept, so memory stays flat; the bounds cap time and
 * bandwidth.
 */
const DISCARD_BYTES = 1024 * 1024 * 1024;
const DISCARD_MS = 30_000;

function discardThenClose(body: http.IncomingMessage, idleMs: number, draining: Set<Socket>): void {
  const socket = body.socket;
  // Requests injected in-process have no connection to drain.
  if (body.destroyed || !(socket instanceof Socket)) return;
  let left = DISCARD_BYTES;
  const close = () => socket.destroy();
  // Unreferenced: a connection being drained never keeps the process alive.
  const overall = setTimeout(close, DISCARD_MS).unref();
  // A client that stops sending is not waited for beyond the body idle timeout.
  let idle = setTimeout(close, idleMs).unref();
  draining.add(socket);
  const stop = () => {
    clearTimeout(overall);
    clearTimeout(idle);
    draining.delete(socket);
  };
  body.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left <= 0) return close();
    clearTimeout(idle);
    idle = setTimeout(close, idleMs).unref();
  });
  body.once('end', stop);
  body.once('close', stop);
  socket.once('close', stop);
  // Whatever was fed from the body (an upload's stream) gets nothing more: the rest is dropped here.
  body.unpipe();
  body.resume();
}

function requestId(incoming: string | string[] | undefined): string {
  if (typeof incoming === 'string' && incoming.length > 0) return incoming.startsWith('req-') ? incoming : `req-${incoming}`;
  return `req-${randomUUID()}`;
}

/** Errors from Fastify itself (body too large, bad content type …) mapped to Glance's codes. */
function toGlimpseError(error: unknown): GlimpseError | null {
  if (error instanceof GlimpseError) return error;
  const e = error as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new GlimpseError('too_large', `Request body is larger than ${JSON_BODY_LIMIT} bytes.`);
  if (e.statusCode === 400) return badRequest(e.message ?? 'Bad request');
  if (e.statusCode === 415) return new GlimpseError('unsupported_media_type', e.message ?? 'Unsupported media type');
  if (isDatabaseBusy(error)) return new GlimpseError('service_unavailable', 'The database is too busy to answer in time; try again.');
  return null;
}
