/** How metadefs are rendered as Glance renders them, and the query parameters their lists share. */
import type { FastifyRequest } from 'fastify';
import type { AssociationRow, NamedRow, NamespaceRow, ObjectRow } from '../../../db/metadefs-repo.js';
import { badRequest } from '../../../domain/errors.js';
import { type NamespaceDocument, objectDefinition, prefixedObject } from '../../../services/metadefs.js';
import { queryPairs } from '../../routing.js';
import { isoSeconds } from '../../wire.js';

export type Params = { ns: string; name: string };
export const NS = '/v2/metadefs/namespaces/:ns';
export type ListLimits = { limitParamDefault: number; apiLimitMax: number };

/** A name as one URL path segment: percent-encoded, but keeping what a segment may hold as it is (`OS::Glance::Image`). */
export const pathSegment = (name: string) => encodeURIComponent(name).replace(/%(3A|40|24|26|2B|2C|3B|3D)/gi, (m) => decodeURIComponent(m));

/** Null fields are left out, as Glance renders metadefs. */
export const compact = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
export const stamps = (r: { created_at: Date; updated_at: Date | null }) => ({ created_at: isoSeconds(r.created_at), updated_at: r.updated_at ? isoSeconds(r.updated_at) : null });

export function namespaceWire(ns: NamespaceRow, extra: Omit<Partial<NamespaceDocument>, 'objects'> & { objects?: unknown[] } = {}) {
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

export const associationWire = (a: AssociationRow) => compact({ name: a.name, prefix: a.prefix, properties_target: a.properties_target, ...stamps(a) });
/** A stored association with its timestamps in whole seconds; a create's echo of its input as sent. */
const associationOrInput = (a: Record<string, unknown>) => (a.created_at instanceof Date ? associationWire(a as unknown as AssociationRow) : compact(a));
export const tagWire = (t: NamedRow) => compact({ name: t.name, ...stamps(t) });
/**
 * As Glance renders an object, alone or inside its namespace: `required`
 * always (`[]` when empty) but in the answer to a PUT that did not send it;
 * in a list, `properties` always, `{}` when there are none.
 */
export const objectWire = (ns: NamespaceRow, r: ObjectRow, o: { prefix?: string; listed?: boolean; requiredSent?: boolean } = {}) => {
  const { required, ...def } = prefixedObject(objectDefinition(r), o.prefix ?? '');
  const properties = o.listed ? { properties: def.properties ?? {} } : {};
  const shownRequired = o.requiredSent === false ? {} : { required };
  return compact({ ...def, ...shownRequired, ...properties, ...stamps(r), self: `/v2/metadefs/namespaces/${ns.namespace}/objects/${r.name}`, schema: '/v2/schemas/metadefs/object' });
};

export function query(request: FastifyRequest): Map<string, string> {
  return new Map(queryPairs(request));
}

export function intParam(value: string | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw badRequest(`${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

export function sortDir(value: string | undefined): 'asc' | 'desc' {
  if (value === undefined) return 'desc';
  if (value !== 'asc' && value !== 'desc') throw badRequest(`Invalid sort direction: ${value}`);
  return value;
}

export function oneOfOrNull<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T | null {
  if (value === undefined) return null;
  if (!(allowed as readonly string[]).includes(value)) throw badRequest(`Invalid ${what}: ${value}`);
  return value as T;
}

