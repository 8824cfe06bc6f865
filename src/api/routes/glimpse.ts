/**
 * Glimpse's own API, beyond Glance's, under /v2/glimpse: the webhook
 * delivery log (policy manage_webhooks) and the node's state for admins.
 */
import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/context.js';
import type { Delivery } from '../../db/webhook-outbox.js';
import { routes } from '../routing.js';

export interface GlimpseRoutesOptions {
  webhookDeliveries: (ctx: RequestContext) => Promise<Delivery[]>;
  adminHealth: (ctx: RequestContext) => Promise<Record<string, unknown>>;
}

export function glimpseRoutes(app: FastifyInstance, o: GlimpseRoutesOptions): void {
  routes(app, '/v2/glimpse/webhooks/deliveries', {
    GET: async (request) => ({
      deliveries: (await o.webhookDeliveries(request.ctx)).map(({ body: _body, ...d }) => ({
        ...d,
        state: d.delivered_at ? 'delivered' : d.next_attempt_at ? 'pending' : 'given up',
      })),
    }),
  });
  routes(app, '/v2/glimpse/health', { GET: async (request) => o.adminHealth(request.ctx) });
}
