/** Discovery: /v2/info/import, /v2/info/stores, /v2/info/usage. */
import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../auth/context.js';
import { notFound } from '../../domain/errors.js';
import { routes } from '../routing.js';

export interface InfoOptions {
  enabledImportMethods: string[];
  /** Configured stores in multi-store mode; null in single-store mode, where Glance answers 404. */
  stores: { id: string; description?: string; default: boolean; type: string; properties: Record<string, unknown> }[] | null;
  /** `stores_info_detail` (admin by default). */
  authorizeDetail: (ctx: RequestContext) => void;
  /** Unified-limit usage of the caller's project ({} when quotas are off, as Glance). */
  usage: (ctx: RequestContext) => Promise<Record<string, { limit: number; usage: number }>>;
}

type StoreInfo = NonNullable<InfoOptions['stores']>[number];

/** Glance's entry: optional fields only when set, `default` as the string "true". */
function storeEntry(s: StoreInfo): Record<string, unknown> {
  return {
    id: s.id,
    ...(s.description ? { description: s.description } : {}),
    ...(s.default ? { default: 'true' } : {}),
    ...(s.type === 'http' ? { 'read-only': 'true' } : {}),
  };
}

export function infoRoutes(app: FastifyInstance, o: InfoOptions): void {
  routes(app, '/v2/info/import', {
    GET: async () => ({
      'import-methods': { description: 'Import methods available.', type: 'array', value: o.enabledImportMethods },
    }),
  });
  routes(app, '/v2/info/stores', {
    GET: async () => {
      if (!o.stores) throw notFound('Multi backend is not supported at this site.');
      return { stores: o.stores.map((s) => storeEntry(s)) };
    },
  });
  routes(app, '/v2/info/stores/detail', {
    GET: async (request) => {
      o.authorizeDetail(request.ctx);
      if (!o.stores) throw notFound('Multi backend is not supported at this site.');
      return { stores: o.stores.map((s) => ({ ...storeEntry(s), type: s.type, properties: s.properties })) };
    },
  });
  routes(app, '/v2/info/usage', { GET: async (request) => ({ usage: await o.usage(request.ctx) }) });
}
