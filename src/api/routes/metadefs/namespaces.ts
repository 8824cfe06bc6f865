/** Namespaces: /v2/metadefs/namespaces and /v2/metadefs/namespaces/{namespace}. */
import type { FastifyInstance } from 'fastify';
import type { MetadefsService } from '../../../services/metadefs.js';
import { baseUrl, routes } from '../../routing.js';
import { pathSegment, namespaceWire, objectWire, query, intParam, sortDir, oneOfOrNull, NS, type Params, type ListLimits } from './wire.js';

export function namespaceRoutes(app: FastifyInstance, metadefs: MetadefsService, limits: ListLimits, publicEndpoint: string | null): void {
  routes(app, '/v2/metadefs/namespaces', {
    GET: async (request) => {
      const q = query(request);
      const limit = Math.min(intParam(q.get('limit'), 'limit') ?? limits.limitParamDefault, limits.apiLimitMax);
      const found = await metadefs.listNamespaces(request.ctx, {
        limit,
        marker: q.get('marker') ?? null,
        sortKey: oneOfOrNull(q.get('sort_key'), ['created_at', 'namespace', 'updated_at'] as const, 'sort key') ?? 'created_at',
        sortDir: sortDir(q.get('sort_dir')),
        visibility: oneOfOrNull(q.get('visibility'), ['public', 'private'] as const, 'visibility'),
        resourceTypes: (q.get('resource_types') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      });
      q.delete('marker');
      const first = q.size ? `/v2/metadefs/namespaces?${new URLSearchParams([...q])}` : '/v2/metadefs/namespaces';
      const body: Record<string, unknown> = {
        namespaces: found.map(({ ns, associations }) => namespaceWire(ns, { resource_type_associations: associations })),
        first,
        schema: '/v2/schemas/metadefs/namespaces',
      };
      if (limit > 0 && found.length === limit) {
        body.next = `/v2/metadefs/namespaces?${new URLSearchParams([...q, ['marker', found[found.length - 1].ns.namespace]])}`;
      }
      return body;
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        const { ns, doc } = await metadefs.createNamespace(request.ctx, request.body);
        // Encoded: a name may hold any character, and a header only Latin-1 (a raw one would fail after the write).
        reply.code(201).header('location', `${baseUrl(request, publicEndpoint)}/v2/metadefs/namespaces/${pathSegment(ns.namespace)}`);
        return namespaceWire(ns, doc);
      },
    },
  });

  routes(app, NS, {
    GET: async (request) => {
      const { ns, doc, objects, prefix, associations } = await metadefs.showNamespace(request.ctx, (request.params as Params).ns, query(request).get('resource_type') ?? null);
      return namespaceWire(ns, { ...doc, resource_type_associations: associations, objects: objects.map((r) => objectWire(ns, r, { prefix })) });
    },
    PUT: { body: true, handler: async (request) => namespaceWire(await metadefs.updateNamespace(request.ctx, (request.params as Params).ns, request.body)) },
    DELETE: async (request, reply) => {
      await metadefs.deleteNamespace(request.ctx, (request.params as Params).ns);
      reply.code(204);
    },
  });
}
