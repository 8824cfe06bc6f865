/** A namespace's objects: /v2/metadefs/namespaces/{namespace}/objects[/{name}]. */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../../domain/errors.js';
import type { MetadefsService } from '../../../services/metadefs.js';
import { routes } from '../../routing.js';
import { objectWire, query, intParam, sortDir, oneOfOrNull, NS, type Params } from './wire.js';

export function objectRoutes(app: FastifyInstance, metadefs: MetadefsService): void {
  routes(app, `${NS}/objects`, {
    GET: async (request) => {
      const q = query(request);
      const limit = intParam(q.get('limit'), 'limit');
      if (limit === 0) throw badRequest('limit must be positive');
      sortDir(q.get('sort_dir'));
      oneOfOrNull(q.get('visibility'), ['public', 'private', 'shared'] as const, 'visibility');
      const found = await metadefs.listObjects(request.ctx, (request.params as Params).ns);
      return { objects: found.map(({ ns, row }) => objectWire(ns, row, { listed: true })), schema: 'v2/schemas/metadefs/objects' };
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        const { ns, row } = await metadefs.saveObject(request.ctx, (request.params as Params).ns, null, request.body);
        reply.code(201);
        return objectWire(ns, row);
      },
    },
    DELETE: async (request, reply) => {
      await metadefs.deleteAll(request.ctx, (request.params as Params).ns, 'metadef_objects');
      reply.code(204);
    },
  });
  routes(app, `${NS}/objects/:name`, {
    GET: async (request) => {
      const { ns, name } = request.params as Params;
      const found = await metadefs.showObject(request.ctx, ns, name);
      return objectWire(found.ns, found.row);
    },
    PUT: {
      body: true,
      handler: async (request) => {
        const { ns, name } = request.params as Params;
        const saved = await metadefs.saveObject(request.ctx, ns, name, request.body);
        return objectWire(saved.ns, saved.row, { requiredSent: saved.requiredSent });
      },
    },
    DELETE: async (request, reply) => {
      const { ns, name } = request.params as Params;
      await metadefs.deleteChild(request.ctx, ns, 'metadef_objects', name);
      reply.code(204);
    },
  });
}
