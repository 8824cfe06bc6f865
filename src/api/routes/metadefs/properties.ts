/** A namespace's properties: /v2/metadefs/namespaces/{namespace}/properties[/{name}]. */
import type { FastifyInstance } from 'fastify';
import type { MetadefsService } from '../../../services/metadefs.js';
import { routes } from '../../routing.js';
import { query, NS, type Params } from './wire.js';

export function propertyRoutes(app: FastifyInstance, metadefs: MetadefsService): void {
  routes(app, `${NS}/properties`, {
    GET: async (request) => ({ properties: await metadefs.listProperties(request.ctx, (request.params as Params).ns) }),
    POST: {
      body: true,
      handler: async (request, reply) => {
        reply.code(201);
        return metadefs.saveProperty(request.ctx, (request.params as Params).ns, null, request.body);
      },
    },
    DELETE: async (request, reply) => {
      await metadefs.deleteAll(request.ctx, (request.params as Params).ns, 'metadef_properties');
      reply.code(204);
    },
  });
  routes(app, `${NS}/properties/:name`, {
    GET: async (request) => {
      const { ns, name } = request.params as Params;
      return metadefs.showProperty(request.ctx, ns, name, query(request).get('resource_type') ?? null);
    },
    PUT: {
      body: true,
      handler: async (request) => {
        const { ns, name } = request.params as Params;
        return metadefs.saveProperty(request.ctx, ns, name, request.body);
      },
    },
    DELETE: async (request, reply) => {
      const { ns, name } = request.params as Params;
      await metadefs.deleteChild(request.ctx, ns, 'metadef_properties', name);
      reply.code(204);
    },
  });
}
