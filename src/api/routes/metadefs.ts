/** The metadata definitions catalog: /v2/metadefs/... */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AssociationRow, NamedRow, NamespaceRow, ObjectRow } from '../../db/metadefs-repo.js';
import { badRequest } from '../../domain/errors.js';
import { type MetadefsService, type NamespaceDocument, objectDefinition, prefixedObject } from '../../services/metadefs.js';
import { baseUrl, queryPairs, routes } from '../routing.js';
import { isoSeconds } from '../wire.js';

type Params = { ns: string; name: string };
const NS = '/v2/metadefs/namespaces/:ns';

/** Null fields are left out, as Glance renders metadefs. */
/** A name as one URL path segment: percent-encoded, but keeping what a segment may hold as it is (`OS::Glance::Image`). */
const pathSegment = (name: string) => encodeURIComponent(name).replace(/%(3A|40|24|26|2B|2C|3B|3D)/gi, (m) => decodeURIComponent(m));

const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
const stamps = (r: { created_at: Date; updated_at: Date | null }) => ({ created_at: isoSeconds(r.created_at), updated_at: r.updated_at ? isoSeconds(r.updated_at) : null });

function namespaceWire(ns: NamespaceRow, extra: Omit<Partial<NamespaceDocument>, 'objects'> & { objects?: unknown[] } = {}) {
  const children = compact({
    resource_type_associations: extra.resource_type_associations?.length ? extra.resource_type_associations.map(associationOrInput) : null,
    properties: extra.properties && Object.keys(extra.properties).length ? extra.properties : null,
    objects: extra.objects?.length ? extra.objects : null,
    tags: extra.tags?.length ? extra.tags : null,
  });
  return compact({
    namespace: ns.namespace,
    display_name: ns.display_name,
    description: ns.description,
    visibility: ns.visibility,
    protected: ns.protected,
    owner: ns.owner,
    ...stamps(ns),
    self: `/v2/metadefs/namespaces/${ns.namespace}`,
    schema: '/v2/schemas/metadefs/namespace',
    ...children,
  });
}

const associationWire = (a: AssociationRow) => compact({ name: a.name, prefix: a.prefix, properties_target: a.properties_target, ...stamps(a) });
/** A stored association with its timestamps in whole seconds; a create's echo of its input as sent. */
const associationOrInput = (a: Record<string, unknown>) => (a.created_at instanceof Date ? associationWire(a as unknown as AssociationRow) : compact(a));
const tagWire = (t: NamedRow) => compact({ name: t.name, ...stamps(t) });
/**
 * As Glance renders an object, alone or inside its namespace: `required`
 * always (`[]` when empty) but in the answer to a PUT that did not send it;
 * in a list, `properties` always, `{}` when there are none.
 */
const objectWire = (ns: NamespaceRow, r: ObjectRow, o: { prefix?: string; listed?: boolean; requiredSent?: boolean } = {}) => {
  const { required, ...def } = prefixedObject(objectDefinition(r), o.prefix ?? '');
  const properties = o.listed ? { properties: def.properties ?? {} } : {};
  const shownRequired = o.requiredSent === false ? {} : { required };
  return compact({ ...def, ...shownRequired, ...properties, ...stamps(r), self: `/v2/metadefs/namespaces/${ns.namespace}/objects/${r.name}`, schema: '/v2/schemas/metadefs/object' });
};

function query(request: FastifyRequest): Map<string, string> {
  return new Map(queryPairs(request));
}

function intParam(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw badRequest(`${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

function sortDir(value: string | undefined): 'asc' | 'desc' {
  if (value === undefined) return 'desc';
  if (value !== 'asc' && value !== 'desc') throw badRequest(`Invalid sort direction: ${value}`);
  return value;
}

function oneOfOrNull<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T | null {
  if (value === undefined) return null;
  if (!(allowed as readonly string[]).includes(value)) throw badRequest(`Invalid ${what}: ${value}`);
  return value as T;
}

export function metadefRoutes(app: FastifyInstance, metadefs: MetadefsService, limits: { limitParamDefault: number; apiLimitMax: number }, publicEndpoint: string | null): void {
  routes(app, '/v2/metadefs/namespaces', {
    GET: async (request) => {
      const q = query(request);
      const limit = Math.min(intParam(q.get('limit'), 'limit') ?? limits.limitParamDefault, limits.apiLimitMax);
      const found = await metadefs.listNamespaces(request.ctx, {
        limit,
        marker: q.get('marker') ?? null,
        sortKey: oneOfOrNull(q.get('sort_key'), ['created_at', 'namespace', 'updated_at'] as const, 'sort key') ?? 'created_at',
        sortDir: sortDir(q.get('sort_dir')),
        visibility: oneOfOrNull(q.get('visibility'), ['public', 'private'] as const, 'visibility'),
        resourceTypes: (q.get('resource_types') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      });
      q.delete('marker');
      const first = q.size ? `/v2/metadefs/namespaces?${new URLSearchParams([...q])}` : '/v2/metadefs/namespaces';
      const body: Record<string, unknown> = {
        namespaces: found.map(({ ns, associations }) => namespaceWire(ns, { resource_type_associations: associations })),
        first,
        schema: '/v2/schemas/metadefs/namespaces',
      };
      if (limit > 0 && found.length === limit) {
        body.next = `/v2/metadefs/namespaces?${new URLSearchParams([...q, ['marker', found[found.length - 1].ns.namespace]])}`;
      }
      return body;
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        const { ns, doc } = await metadefs.createNamespace(request.ctx, request.body);
        // Encoded: a name may hold any character, and a header only Latin-1 (a raw one would fail after the write).
        reply.code(201).header('location', `${baseUrl(request, publicEndpoint)}/v2/metadefs/namespaces/${pathSegment(ns.namespace)}`);
        return namespaceWire(ns, doc);
      },
    },
  });

  routes(app, NS, {
    GET: async (request) => {
      const { ns, doc, objects, prefix, associations } = await metadefs.showNamespace(request.ctx, (request.params as Params).ns, query(request).get('resource_type') ?? null);
      return namespaceWire(ns, { ...doc, resource_type_associations: associations, objects: objects.map((r) => objectWire(ns, r, { prefix })) });
    },
    PUT: { body: true, handler: async (request) => namespaceWire(await metadefs.updateNamespace(request.ctx, (request.params as Params).ns, request.body)) },
    DELETE: async (request, reply) => {
      await metadefs.deleteNamespace(request.ctx, (request.params as Params).ns);
      reply.code(204);
    },
  });

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

  routes(app, `${NS}/tags`, {
    GET: async (request) => {
      const q = query(request);
      const tags = await metadefs.listTags(request.ctx, (request.params as Params).ns, {
        limit: intParam(q.get('limit'), 'limit'),
        marker: q.get('marker') ?? null,
        sortKey: oneOfOrNull(q.get('sort_key'), ['created_at', 'name', 'updated_at'] as const, 'sort key') ?? 'created_at',
        sortDir: sortDir(q.get('sort_dir')),
      });
      return { tags: tags.map((t) => ({ name: t.name })) };
    },
    POST: {
      body: true,
      handler: async (request, reply) => {
        const append = /^(true|t|yes|y|on|1)$/i.test(String(request.headers['x-openstack-append'] ?? ''));
        const names = await metadefs.createTags(request.ctx, (request.params as Params).ns, request.body, append);
        reply.code(201);
        return { tags: names.map((name) => ({ name })) };
      },
    },
    DELETE: async (request, reply) => {
      await metadefs.deleteAll(request.ctx, (request.params as Params).ns, 'metadef_tags');
      reply.code(204);
    },
  });
  routes(app, `${NS}/tags/:name`, {
    GET: async (request) => {
      const { ns, name } = request.params as Params;
      return tagWire(await metadefs.showTag(request.ctx, ns, name));
    },
    POST: async (request, reply) => {
      const { ns, name } = request.params as Params;
      const tag = await metadefs.createTag(request.ctx, ns, name);
      reply.code(201);
      return tagWire(tag);
    },
    PUT: {
      body: true,
      handler: async (request) => {
        const { ns, name } = request.params as Params;
        return tagWire(await metadefs.renameTag(request.ctx, ns, name, request.body));
      },
    },
    DELETE: async (request, reply) => {
      const { ns, name } = request.params as Params;
      await metadefs.deleteChild(request.ctx, ns, 'metadef_tags', name);
      reply.code(204);
    },
  });

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
