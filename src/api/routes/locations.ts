/** The v2.17 location API: `POST` (owner or service) and `GET` (services) on /v2/images/{id}/locations. */
import type { FastifyInstance } from 'fastify';
import type { LocationsService } from '../../services/locations.js';
import { routes } from '../routing.js';

type IdParams = { id: string };

export function locationRoutes(app: FastifyInstance, locations: LocationsService): void {
  routes(app, '/v2/images/:id/locations', {
    GET: async (request) => locations.list(request.ctx, (request.params as IdParams).id),
    POST: {
      body: true,
      handler: async (request, reply) => {
        await locations.addByApi(request.ctx, (request.params as IdParams).id, request.body);
        reply.code(202);
      },
    },
  });
}
