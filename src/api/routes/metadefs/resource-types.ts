/** Resource types and a namespace's associations with them. */
import type { FastifyInstance } from 'fastify';
import type { MetadefsService } from '../../../services/metadefs.js';
import { routes } from '../../routing.js';
import { compact, stamps, associationWire, NS, type Params } from './wire.js';

export function resourceTypeRoutes(app: FastifyInstance, metadefs: MetadefsService): void {
  routes(app, `${NS}/resource_types`, {
    GET: async (request) => ({ resource_type_associations: (await metadefs.listAssociations(request.ctx, (request.params as Params).ns)).map(associationWire) }),
    POST: {
      body: true,
      handler: async (request, reply) => {
        const association = await metadefs.associate(request.ctx, (request.params as Params).ns, request.body);
        reply.code(201);
        return associationWire(association);
      },
    },
  });
  routes(app, `${NS}/resource_types/:name`, {
    DELETE: async (request, reply) => {
      const { ns, name } = request.params as Params;
      await metadefs.dissociate(request.ctx, ns, name);
      reply.code(204);
    },
  });
  routes(app, '/v2/metadefs/resource_types', {
    GET: async (request) => ({ resource_types: (await metadefs.listResourceTypes(request.ctx)).map((r) => compact({ name: r.name, ...stamps(r) })) }),
  });
}
