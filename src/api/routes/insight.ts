/**
 * Image insight (services/insight.ts): the readiness report of an image,
 * accepting its suggested properties, and inspecting it again.
 */
import type { FastifyInstance } from 'fastify';
import type { InsightService } from '../../services/insight.js';
import { routes } from '../routing.js';
import { isoSeconds } from '../wire.js';

const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

export function insightRoutes(app: FastifyInstance, insight: InsightService): void {
  routes(app, '/v2/glimpse/images/:id/insight', {
    GET: async (request) => insight.report(request.ctx, idOf(request)),
    POST: async (request, reply) => {
      const task = await insight.reinspect(request.ctx, idOf(request));
      reply.code(202);
      return { task_id: task.id, status: task.status, created_at: isoSeconds(task.created_at) };
    },
  });
  routes(app, '/v2/glimpse/images/:id/insight/apply', {
    POST: { body: true, handler: async (request) => insight.apply(request.ctx, idOf(request), request.body) },
  });
}
