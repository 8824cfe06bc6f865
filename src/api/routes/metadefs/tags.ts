/** A namespace's tags: /v2/metadefs/namespaces/{namespace}/tags[/{name}]. */
import type { FastifyInstance } from 'fastify';
import type { MetadefsService } from '../../../services/metadefs.js';
import { routes } from '../../routing.js';
import { tagWire, query, intParam, sortDir, oneOfOrNull, NS, type Params } from './wire.js';

export function tagRoutes(app: FastifyInstance, metadefs: MetadefsService): void {
  routes(app, `${NS}/tags`, {
    GET: async (request) => {
      const q = query(request);
      const tags = await metadefs.listTags(request.ctx, (request.params as Params).ns, {
        limit: intParam(q.get('limit'), 'limit'),
        marker: q.get('marker') ?? null,
        sortKey: oneOfOrNull(q.get('sort_key'), ['created_at', 'name', 'updated_at'] as const, 'sort key') ?? 'created_at',
        sortDir: sortDir(q.get('sort_dir')),
      });
      return { tags: tags.map((t) => ({ name: t.name })) };
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        const append = /^(true|t|yes|y|on|1)$/i.test(String(request.headers['x-openstack-append'] ?? ''));
        const names = await metadefs.createTags(request.ctx, (request.params as Params).ns, request.body, append);
        reply.code(201);
        return { tags: names.map((name) => ({ name })) };
      },
    },
    DELETE: async (request, reply) => {
      await metadefs.deleteAll(request.ctx, (request.params as Params).ns, 'metadef_tags');
      reply.code(204);
    },
  });
  routes(app, `${NS}/tags/:name`, {
    GET: async (request) => {
      const { ns, name } = request.params as Params;
      return tagWire(await metadefs.showTag(request.ctx, ns, name));
    },
    POST: async (request, reply) => {
      const { ns, name } = request.params as Params;
      const tag = await metadefs.createTag(request.ctx, ns, name);
      reply.code(201);
      return tagWire(tag);
    },
    PUT: {
      body: true,
      handler: async (request) => {
        const { ns, name } = request.params as Params;
        return tagWire(await metadefs.renameTag(request.ctx, ns, name, request.body));
      },
    },
    DELETE: async (request, reply) => {
      const { ns, name } = request.params as Params;
      await metadefs.deleteChild(request.ctx, ns, 'metadef_tags', name);
      reply.code(204);
    },
  });
}
