/**
 * The version document (GET / → 300, GET /versions → 200) and the URL
 * version negotiation: `/v2.N/…` is served as `/v2/…`; any other first path
 * segment gets the version document, as Glance's negotiation filter answers.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../routing.js';

/** What the version list depends on: multi-store adds 2.8–2.13, the image cache 2.14, 2.16 and 2.18 (then current). */
export interface VersionFlags {
  multiStore: boolean;
  cache: boolean;
}

export interface VersionOptions extends VersionFlags {
  /** null when healthy, else why this node cannot serve. */
  health?: () => Promise<string | null>;
  /** `[healthcheck] detailed`: what a JSON healthcheck adds (the database's and stores' state, work in flight). */
  healthDetails?: (() => Promise<Record<string, unknown>>) | null;
  publicEndpoint: string | null;
}

/** Glance's list, in Glance's order. */
function versionIds(f: VersionFlags): string[] {
  const head = f.cache ? ['v2.18', 'v2.17', 'v2.16', 'v2.15', 'v2.14'] : ['v2.15'];
  const middle = f.multiStore ? ['v2.13', 'v2.12', 'v2.11', 'v2.10', 'v2.9', 'v2.8'] : ['v2.9'];
  return [...head, ...middle, ...(f.cache ? [] : ['v2.17']), 'v2.7', 'v2.6', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0'];
}

function acceptedPrefixes(f: VersionFlags): Set<string> {
  return new Set(['v2', ...versionIds(f)]);
}

/** Where the router sends a URL: the API itself, its own paths, or the version document. */
export function rewriteUrl(url: string, f: VersionFlags): string {
  const prefixes = acceptedPrefixes(f);
  const [path, query] = splitQuery(url);
  const first = path.split('/')[1] ?? '';
  if (first === 'healthcheck' || first === 'dashboard' || first === 'versions' || first === 'metrics') return url;
  if (prefixes.has(first)) return first === 'v2' ? url : `/v2${path.slice(first.length + 1)}${query}`;
  return '/';
}

function splitQuery(url: string): [string, string] {
  const q = url.indexOf('?');
  return q === -1 ? [url, ''] : [url.slice(0, q), url.slice(q)];
}

function document(request: FastifyRequest, o: VersionOptions) {
  const href = `${baseUrl(request, o.publicEndpoint)}/v2/`;
  return {
    versions: versionIds(o).map((id) => ({
      id,
      status: id === (o.cache ? 'v2.18' : 'v2.17') ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href }],
    })),
  };
}

export function versionRoutes(app: FastifyInstance, o: VersionOptions): void {
  app.all('/', async (request, reply) => reply.code(300).send(document(request, o)));
  app.all('/versions', async (request) => document(request, o));
  app.all('/versions/*', async (request) => document(request, o));
  app.route({
    method: ['GET', 'HEAD'],
    url: '/healthcheck',
    // oslo.middleware's answer: 200 "OK", or 503 with the reason when this
    // node cannot serve (its database pool gives no connection in time).
    handler: async (request, reply) => {
      const problem = o.health ? await o.health() : null;
      reply.code(problem ? 503 : 200);
      if (o.healthDetails && String(request.headers.accept ?? '').includes('application/json')) {
        return reply.type('application/json').send({ detailed: true, now: new Date().toISOString(), reasons: [{ reason: problem ?? 'OK', class: 'GlimpseHealth', details: await o.healthDetails() }] });
      }
      return reply.type('text/plain').send(problem ?? 'OK');
    },
  });
}
