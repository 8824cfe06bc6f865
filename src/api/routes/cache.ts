/** The image cache's API (v2.14–2.18): /v2/cache, /v2/cache/{image_id}, /v2/cache/clean, /v2/cache/prune, /v2/cache/nodes/{image_id}. */
import type { FastifyInstance } from 'fastify';
import type { ImageCacheService } from '../../services/image-cache.js';
import { routes } from '../routing.js';

type IdParams = { image_id: string };

export function cacheRoutes(app: FastifyInstance, cache: ImageCacheService): void {
  routes(app, '/v2/cache', {
    GET: async (request) => cache.state(request.ctx),
    DELETE: async (request, reply) => {
      await cache.clear(request.ctx, String(request.headers['x-image-cache-clear-target'] ?? ''));
      reply.code(204);
    },
  });
  routes(app, '/v2/cache/:image_id', {
    PUT: async (request, reply) => {
      await cache.queue(request.ctx, (request.params as IdParams).image_id);
      reply.code(202);
    },
    DELETE: async (request, reply) => {
      await cache.delete(request.ctx, (request.params as IdParams).image_id);
      reply.code(204);
    },
  });
  routes(app, '/v2/cache/clean', {
    POST: async (request, reply) => {
      await cache.clean(request.ctx);
      reply.code(200);
      return '';
    },
  });
  routes(app, '/v2/cache/prune', { POST: async (request) => cache.prune(request.ctx) });
  routes(app, '/v2/cache/nodes/:image_id', { GET: async (request) => cache.nodes(request.ctx, (request.params as IdParams).image_id) });
}
