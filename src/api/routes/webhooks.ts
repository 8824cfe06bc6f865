/** `GET /v2/glimpse/webhooks/deliveries`: the webhook delivery log (Glimpse's own API, under policy manage_webhooks). */
import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/context.js';
import type { Delivery } from '../../db/webhook-outbox.js';
import { routes } from '../routing.js';

export function webhookRoutes(app: FastifyInstance, deliveries: (ctx: RequestContext) => Promise<Delivery[]>): void {
  routes(app, '/v2/glimpse/webhooks/deliveries', {
    GET: async (request) => ({
      deliveries: (await deliveries(request.ctx)).map(({ body: _body, ...d }) => ({
        ...d,
        state: d.delivered_at ? 'delivered' : d.next_attempt_at ? 'pending' : 'given up',
      })),
    }),
  });
}
