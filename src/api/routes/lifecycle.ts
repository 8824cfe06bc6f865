/**
 * Families and deprecation (services/lifecycle.ts): the deprecate and
 * undeprecate actions beside Glance's image actions, and the family
 * resolver under Glimpse's own prefix.
 */
import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/context.js';
import type { Image } from '../../domain/image.js';
import type { ImageAccess } from '../../services/image-access.js';
import { CONVERTED_FROM, COPIED_FROM, type LifecycleService, SOURCE_URL } from '../../services/lifecycle.js';
import type { RetentionService, RetentionView } from '../../services/retention.js';
import { routes } from '../routing.js';
import { type WireOptions, imageToWire, isoSeconds } from '../wire.js';

export interface LifecycleRoutesOptions {
  lifecycle: LifecycleService;
  retention: RetentionService;
  access: ImageAccess;
  wire: WireOptions;
}

type IdParams = { id: string };
const familyOf = (request: { params: unknown }) => (request.params as { family: string }).family;

export function lifecycleRoutes(app: FastifyInstance, o: LifecycleRoutesOptions): void {
  const wire = (ctx: RequestContext, image: Image) => imageToWire(o.access.view(ctx, image), o.access.visibleLocations(ctx, image), o.wire);

  routes(app, '/v2/images/:id/actions/deprecate', {
    POST: { body: true, handler: async (request) => wire(request.ctx, await o.lifecycle.deprecate(request.ctx, (request.params as IdParams).id, request.body)) },
  });
  routes(app, '/v2/images/:id/actions/undeprecate', {
    POST: async (request) => wire(request.ctx, await o.lifecycle.undeprecate(request.ctx, (request.params as IdParams).id)),
  });
  routes(app, '/v2/glimpse/images/:id/lineage', {
    GET: async (request) => {
      const { image, ancestors, descendants } = await o.lifecycle.lineage(request.ctx, (request.params as IdParams).id);
      const summary = ({ image: i, via }: { image: Image; via?: string }) => ({ id: i.id, name: i.name, status: i.status, visibility: i.visibility, created_at: isoSeconds(i.created_at), ...(via ? { via } : {}) });
      const p = image.properties;
      const origin = { source_url: p[SOURCE_URL] ?? null, converted_from: p[CONVERTED_FROM] ?? null, copied_from: p[COPIED_FROM] ?? null };
      return { ...summary({ image }), ...origin, ancestors: ancestors.map(summary), descendants: descendants.map(summary) };
    },
  });
  const retentionView = ({ policy, steps }: RetentionView) => ({
    family: policy.family,
    owner: policy.owner,
    keep_newest: policy.keep_newest,
    deprecate_after_days: policy.deprecate_after_days,
    delete_deprecated_after_days: policy.delete_deprecated_after_days,
    updated_at: isoSeconds(policy.updated_at),
    next: steps.map(({ image, action, reason }) => ({ id: image.id, name: image.name, action, reason })),
  });
  routes(app, '/v2/glimpse/families/:family/retention', {
    GET: async (request) => retentionView(await o.retention.view(request.ctx, familyOf(request))),
    PUT: { body: true, handler: async (request) => retentionView(await o.retention.set(request.ctx, familyOf(request), request.body)) },
    DELETE: async (request, reply) => {
      await o.retention.remove(request.ctx, familyOf(request));
      reply.code(204);
    },
  });
  routes(app, '/v2/glimpse/families/:family', {
    GET: async (request) => {
      const { family, latest, versions } = await o.lifecycle.family(request.ctx, (request.params as { family: string }).family);
      return { family, latest: latest && wire(request.ctx, latest), versions: versions.map((image) => wire(request.ctx, image)) };
    },
  });
}
