/**
 * The HTTP application: request ids, CORS, identity, routes and the single
 * error handler. It never listens by itself (see `server.ts`).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { IdentityResolver } from '../auth/identity.js';
import type { CorsConfig } from '../config/config.js';
import { GlimpseError, badRequest } from '../domain/errors.js';
import type { ImageDataService } from '../services/image-data.js';
import type { ImportService } from '../services/image-import.js';
import type { ImagesService } from '../services/images.js';
import type { MembersService } from '../services/members.js';
import type { MetadefsService } from '../services/metadefs.js';
import type { TasksService } from '../services/tasks.js';
import type { JsonSchema } from '../domain/schemas.js';
import { applyCors } from './cors.js';
import { STATUS, renderError } from './errors.js';
import { type DashboardOptions, dashboardRoutes } from './routes/dashboard.js';
import { imageDataRoutes, storeRoutes } from './routes/image-data.js';
import { imageRoutes } from './routes/images.js';
import { memberRoutes } from './routes/members.js';
import { metadefRoutes } from './routes/metadefs.js';
import { type InfoOptions, infoRoutes } from './routes/info.js';
import { schemaRoutes } from './routes/schemas.js';
import { taskRoutes } from './routes/tasks.js';
import { rewriteUrl, versionRoutes } from './routes/versions.js';
import type { WireOptions } from './wire.js';

export interface AppDeps {
  logger: Logger;
  identity: IdentityResolver;
  images: ImagesService;
  imageData: ImageDataService;
  members: MembersService;
  imports: ImportService;
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
}

const JSON_BODY_LIMIT = 16 * 1024 * 1024;

export function buildApp(deps: AppDeps): FastifyInstance {
  const multiStore = deps.storeIds !== null;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    exposeHeadRoutes: false,
    // Tags and property names of up to 255 characters travel in paths.
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: JSON_BODY_LIMIT,
    genReqId: (req) => requestId(req.headers['x-openstack-request-id']),
    rewriteUrl: (req) => rewriteUrl(req.url ?? '/', multiStore),
    // Fastify leaves timeouts to a server it did not create: all are set here.
    // No request timeout: multi-GiB uploads take as long as they take. A
    // keep-alive longer than clients' and load balancers', so the server is
    // never the side that closes an idle connection a client is reusing.
    // 1 MiB socket and request buffers: with Node's 16 KiB default an upload
    // stalls the socket after every 64 KiB read.
    serverFactory: (handler) =>
      http.createServer({ highWaterMark: 1024 * 1024, requestTimeout: 0, keepAliveTimeout: 75_000, headersTimeout: 60_000 }, handler),
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
    const incoming = request.headers['x-openstack-request-id'];
    if (typeof incoming === 'string' && incoming.length > deps.maxRequestIdLength) {
      throw new GlimpseError('header_too_large', `x-openstack-request-id is longer than ${deps.maxRequestIdLength} characters.`);
    }
  });
  if (deps.cors) {
    const cors = deps.cors;
    app.addHook('onRequest', async (request, reply) => applyCors(cors, request, reply));
  }

  app.setErrorHandler((error, request, reply) => {
    const known = toGlimpseError(error);
    if (!known) {
      request.log.error({ err: error }, 'unexpected error');
    }
    const status = known ? STATUS[known.kind] : 500;
    const explanation = known?.message ?? 'The server has either erred or is incapable of performing the requested operation.';
    const rendered = renderError(status, explanation, request.headers.accept);
    for (const [name, value] of Object.entries(known?.headers ?? {})) reply.header(name, value);
    if (status === 401 && deps.wwwAuthenticate) reply.header('www-authenticate', deps.wwwAuthenticate);
    // Refused mid-body (an upload over a limit, say): close the connection
    // after answering, rather than read and discard the rest of the image.
    if (!request.raw.complete) reply.header('connection', 'close');
    return reply.code(status).type(rendered.contentType).send(rendered.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const rendered = renderError(404, 'The resource could not be found.', request.headers.accept);
    return reply.code(404).type(rendered.contentType).send(rendered.body);
  });

  versionRoutes(app, { publicEndpoint: deps.publicEndpoint, multiStore });
  if (deps.dashboard) dashboardRoutes(app, deps.dashboard);
  app.register(async (api) => {
    api.decorateRequest('ctx', null as never);
    api.addHook('onRequest', async (request) => {
      request.ctx = await deps.identity(request.headers, request.id);
    });
    api.register(async (json) => {
      jsonBodies(json);
      imageRoutes(json, {
        images: deps.images,
        wire: deps.wire,
        publicEndpoint: deps.publicEndpoint,
        enabledImportMethods: deps.info.enabledImportMethods,
        storeIds: deps.storeIds,
      });
      memberRoutes(json, deps.members);
      taskRoutes(json, deps.imports, deps.tasks, deps.publicEndpoint);
      storeRoutes(json, deps.imageData);
      metadefRoutes(json, deps.metadefs, deps.limits, deps.publicEndpoint);
      schemaRoutes(json, deps.imageSchema);
      infoRoutes(json, deps.info);
    });
    api.register(async (data) => imageDataRoutes(data, deps.imageData));
  });
  return app;
}

/** Glance parses JSON bodies whatever their Content-Type says. */
function jsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request: FastifyRequest, text: string | Buffer, done) => {
    const body = String(text);
    if (body.trim() === '') return done(null, undefined);
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed === null || typeof parsed !== 'object') return done(badRequest('Expected a JSON object or array in the request body.'), undefined);
      done(null, parsed);
    } catch {
      done(badRequest('Malformed JSON in request body.'), undefined);
    }
  });
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
  return null;
}
