/**
 * Route declaration as Glance's router does it: each path lists its methods,
 * every other method on that path answers 405 with `Allow`, and calls that
 * take no body refuse one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { RequestContext } from '../auth/context.js';
import { badRequest, methodNotAllowed } from '../domain/errors.js';

export type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

interface RouteSpec {
  handler: Handler;
  /** The call takes a body (JSON or data); all others refuse one with 400. */
  body?: boolean;
}

const ALL_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
}

export function routes(app: FastifyInstance, url: string, methods: Partial<Record<HTTPMethods, RouteSpec | Handler>>): void {
  const allowed = Object.keys(methods) as HTTPMethods[];
  for (const method of allowed) {
    const spec = methods[method]!;
    const { handler, body = false } = typeof spec === 'function' ? { handler: spec } : spec;
    app.route({
      method,
      url,
      preValidation: body ? undefined : refuseBody,
      handler,
    });
  }
  const others = ALL_METHODS.filter((m) => !allowed.includes(m));
  if (others.length) {
    app.route({
      method: others,
      url,
      handler: async (request) => {
        throw methodNotAllowed(request.method, allowed);
      },
    });
  }
}

/** Glance: "A body is not expected with this request." */
async function refuseBody(request: FastifyRequest): Promise<void> {
  const length = Number(request.headers['content-length'] ?? 0);
  const encoding = request.headers['transfer-encoding'];
  if (length > 0 || (encoding !== undefined && ['POST', 'PUT', 'PATCH'].includes(request.method))) {
    throw badRequest('A body is not expected with this request.');
  }
}

/** The request URL's query string as ordered pairs, repeated keys kept. */
export function queryPairs(request: FastifyRequest): [string, string][] {
  const q = request.url.indexOf('?');
  return q === -1 ? [] : [...new URLSearchParams(request.url.slice(q + 1))];
}

/** Absolute URLs as Glance builds them: public_endpoint, else the request's own host. */
export function baseUrl(request: FastifyRequest, publicEndpoint: string | null): string {
  if (publicEndpoint) return publicEndpoint.replace(/\/+$/, '');
  return `${request.protocol}://${request.headers.host ?? 'localhost'}`;
}
