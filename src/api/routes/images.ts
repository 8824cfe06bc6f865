/** Image records: /v2/images, /v2/images/{id}, tags and actions. */
import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/context.js';
import { badRequest } from '../../domain/errors.js';
import type { Image } from '../../domain/image.js';
import { patchDialect } from '../../services/image-patch.js';
import type { ImageAccess } from '../../services/image-access.js';
import type { ImagesService } from '../../services/images.js';
import { baseUrl, queryPairs, routes } from '../routing.js';
import { type WireOptions, imageToWire } from '../wire.js';

export interface ImageRoutesOptions {
  images: ImagesService;
  access: ImageAccess;
  wire: WireOptions;
  publicEndpoint: string | null;
  enabledImportMethods: string[];
  storeIds: string[] | null;
}

type IdParams = { id: string };
type TagParams = { id: string; tag: string };

export function imageRoutes(app: FastifyInstance, o: ImageRoutesOptions): void {
  const { images, access } = o;
  const wire = (ctx: RequestContext, image: Image) => imageToWire(access.view(ctx, image), access.visibleLocations(ctx, image), o.wire);

  routes(app, '/v2/images', {
    GET: async (request, reply) => {
      const pairs = queryPairs(request);
      const left = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) left.abort();
      });
      const { images: found, more } = await images.list(request.ctx, pairs, left.signal);
      const single = new URLSearchParams(Object.entries(Object.fromEntries(pairs)).filter(([k]) => k !== 'marker'));
      const first = single.size ? `/v2/images?${single}` : '/v2/images';
      const body: Record<string, unknown> = {
        images: found.map((image) => wire(request.ctx, image)),
        first,
        schema: '/v2/schemas/images',
      };
      if (more && found.length > 0) {
        single.set('marker', found[found.length - 1].id);
        body.next = `/v2/images?${single}`;
      }
      return body;
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        if (request.body === undefined) throw badRequest('Body expected in request.');
        const image = await images.create(request.ctx, request.body);
        reply.code(201).header('location', `${baseUrl(request, o.publicEndpoint)}/v2/images/${image.id}`);
        if (o.enabledImportMethods.length) reply.header('openstack-image-import-methods', o.enabledImportMethods.join(','));
        if (o.storeIds) reply.header('openstack-image-store-ids', o.storeIds.join(','));
        return wire(request.ctx, image);
      },
    },
  });

  routes(app, '/v2/images/:id', {
    GET: async (request) => {
      const { id } = request.params as IdParams;
      return wire(request.ctx, await images.show(request.ctx, id));
    },
    PATCH: {
      body: true,
      handler: async (request) => {
        const { id } = request.params as IdParams;
        const dialect = patchDialect(request.headers['content-type']);
        if (request.body === undefined) throw badRequest('Body expected in request.');
        return wire(request.ctx, await images.update(request.ctx, id, dialect, request.body));
      },
    },
    DELETE: async (request, reply) => {
      await images.delete(request.ctx, (request.params as IdParams).id);
      reply.code(204);
    },
  });

  routes(app, '/v2/images/:id/tags/:tag', {
    PUT: async (request, reply) => {
      const { id, tag } = request.params as TagParams;
      await images.addTag(request.ctx, id, tag);
      reply.code(204);
    },
    DELETE: async (request, reply) => {
      const { id, tag } = request.params as TagParams;
      await images.removeTag(request.ctx, id, tag);
      reply.code(204);
    },
  });

  for (const action of ['deactivate', 'reactivate'] as const) {
    routes(app, `/v2/images/:id/actions/${action}`, {
      POST: async (request, reply) => {
        await images[action](request.ctx, (request.params as IdParams).id);
        reply.code(204);
      },
    });
  }
}
