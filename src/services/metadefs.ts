/**
 * The metadata definitions catalog: namespaces and their properties, objects,
 * tags and resource-type associations. Reads follow namespace visibility
 * (invisible = 404); writes are for admins (policy metadef_admin); nothing in
 * a protected namespace can be deleted.
 */
import { dict } from '../domain/dict.js';
import AjvModule from 'ajv';
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { Policy } from '../auth/policy.js';
import type { ChildTable, MetadefsRepository, NamedRow, NamespaceFields, NamespaceQuery, NamespaceRow, ObjectRow, PropertyRow } from '../db/metadefs-repo.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import { NAMESPACE_SCHEMA, OBJECT_SCHEMA, PROPERTY_SCHEMA, RESOURCE_TYPE_SCHEMA, TAGS_BODY_SCHEMA, TAG_SCHEMA } from '../domain/metadef-schemas.js';
import type { JsonSchema } from '../domain/schemas.js';
import { SchemaValidator } from './validator.js';

export type PropertyDefinition = Record<string, unknown>;
export interface ObjectDefinition {
  name: string;
  description?: string;
  required?: string[];
  properties?: Record<string, PropertyDefinition>;
}
/** A namespace document: what the API accepts and returns, and what Glance's JSON files hold. */
export interface NamespaceDocument {
  namespace: string;
  display_name?: string | null;
  description?: string | null;
  visibility?: string | null;
  protected?: boolean | null;
  owner?: string;
  resource_type_associations?: { name: string; prefix?: string | null; properties_target?: string | null }[];
  properties?: Record<string, PropertyDefinition>;
  objects?: ObjectDefinition[];
  tags?: { name: string }[];
}

import type { Notifier } from '../notify/notifier.js';
import { childPayload, deletedPayload, namespacePayload, objectPayload, propertyPayload } from '../notify/payloads.js';

const Ajv = AjvModule.default ?? AjvModule;
const definitionChecker = new Ajv({ strict: false, validateFormats: false });
const validators = {
  namespace: new SchemaValidator('namespace', NAMESPACE_SCHEMA),
  property: new SchemaValidator('property', PROPERTY_SCHEMA),
  propertyInMap: new SchemaValidator('property', { ...PROPERTY_SCHEMA, required: ['type', 'title'] }),
  object: new SchemaValidator('object', OBJECT_SCHEMA),
  tag: new SchemaValidator('tag', TAG_SCHEMA),
  tags: new SchemaValidator('tags', TAGS_BODY_SCHEMA),
  association: new SchemaValidator('resource_type_association', RESOURCE_TYPE_SCHEMA),
};
const READ_ONLY = ['self', 'schema', 'created_at', 'updated_at'];

export class MetadefsService {
  private readonly repo: MetadefsRepository;
  private readonly policy: Policy;
  private readonly notify: Notifier;

  constructor(d: { repo: MetadefsRepository; policy: Policy; notify: Notifier }) {
    ({ repo: this.repo, policy: this.policy, notify: this.notify } = d);
  }

  // Namespaces

  async listNamespaces(ctx: RequestContext, q: Omit<NamespaceQuery, 'viewer' | 'marker'> & { marker: string | null }) {
    this.policy.enforce(ctx, 'get_metadef_namespaces', { project_id: ctx.projectId });
    const marker = q.marker === null ? null : await this.visibleNamespace(ctx, q.marker);
    const rows = await this.repo.namespaces({ ...q, marker, viewer: { projectId: ctx.projectId, isAdmin: ctx.isAdmin } });
    return Promise.all(rows.map(async (ns) => ({ ns, associations: await this.repo.associations(ns.id) })));
  }

  /** The namespace with its children; with `resourceType`, names carry that association's prefix. */
  async showNamespace(ctx: RequestContext, name: string, resourceType: string | null) {
    const ns = await this.visibleNamespace(ctx, name);
    const doc = await this.document(ns);
    const prefix = (resourceType ? doc.resource_type_associations?.find((a) => a.name === resourceType)?.prefix : null) ?? '';
    const [objects, associations] = await Promise.all([this.repo.children<ObjectRow>('metadef_objects', ns.id), this.repo.associations(ns.id)]);
    return { ns, doc: prefix ? withPrefix(doc, prefix) : doc, objects, prefix, associations };
  }

  async createNamespace(ctx: RequestContext, body: unknown): Promise<{ ns: NamespaceRow; doc: NamespaceDocument }> {
    this.write(ctx, 'add_metadef_namespace');
    const doc = namespaceBody(body);
    const ns = await this.repo.transaction((repo) => importNamespace(repo, { owner: ctx.projectId ?? 'admin', ...doc, visibility: doc.visibility ?? 'private', protected: doc.protected ?? false }, false));
    this.notify.emit('metadef_namespace.create', namespacePayload(ns));
    return { ns, doc };
  }

  async updateNamespace(ctx: RequestContext, name: string, body: unknown): Promise<NamespaceRow> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, 'modify_metadef_namespace');
    const doc = namespaceBody(body);
    // A full replacement: omitted attributes take their defaults, as in Glance.
    const fields = namespaceFields({ ...doc, visibility: doc.visibility ?? 'private', owner: doc.owner ?? ctx.projectId ?? ns.owner });
    const updated = await this.repo.updateNamespace(ns.id, fields, ns.namespace);
    this.notify.emit('metadef_namespace.update', { ...namespacePayload(updated), namespace_old: ns.namespace });
    return updated;
  }

  async deleteNamespace(ctx: RequestContext, name: string): Promise<void> {
    const ns = await this.deletable(ctx, name, 'delete_metadef_namespace');
    await this.repo.deleteNamespace(ns.id);
    this.notify.emit('metadef_namespace.delete', deletedPayload(namespacePayload(ns)));
  }

  /** DELETE …/properties, …/objects, …/tags: every child of one kind. */
  async deleteAll(ctx: RequestContext, name: string, table: ChildTable): Promise<void> {
    const ns = await this.deletable(ctx, name, 'delete_metadef_namespace');
    if (table === 'metadef_tags') this.write(ctx, 'delete_metadef_tags');
    await this.repo.deleteChildren(table, ns.id);
    const what = { metadef_properties: 'properties', metadef_objects: 'objects', metadef_tags: 'tags' }[table];
    this.notify.emit(`metadef_namespace.delete_${what}`, namespacePayload(ns));
  }

  // Properties

  async listProperties(ctx: RequestContext, name: string): Promise<Record<string, PropertyDefinition>> {
    const ns = await this.visibleNamespace(ctx, name);
    const rows = await this.repo.children<PropertyRow>('metadef_properties', ns.id);
    // Each definition in the map carries its own name, as Glance lists them.
    return dict(rows.map((r) => [r.name, { ...(JSON.parse(r.json_schema) as PropertyDefinition), name: r.name }]));
  }

  async showProperty(ctx: RequestContext, name: string, property: string, resourceType: string | null): Promise<PropertyDefinition> {
    const ns = await this.visibleNamespace(ctx, name);
    let key = property;
    if (resourceType) {
      const prefix = (await this.repo.associations(ns.id)).find((a) => a.name === resourceType)?.prefix;
      if (prefix === undefined || (prefix && !property.startsWith(prefix))) throw notFound(`Property ${property} not found in namespace ${name}.`);
      key = property.slice((prefix ?? '').length);
    }
    const row = await this.repo.child<PropertyRow>('metadef_properties', ns.id, key);
    if (!row) throw notFound(`Property ${property} not found in namespace ${name}.`);
    // The stored name: with ?resource_type= the association's prefix is not part of it.
    return { ...(JSON.parse(row.json_schema) as PropertyDefinition), name: key };
  }

  async saveProperty(ctx: RequestContext, name: string, existing: string | null, body: unknown): Promise<PropertyDefinition> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, existing ? 'modify_metadef_property' : 'add_metadef_property');
    const definition = checkedBody(body, validators.property);
    checkDefinition(definition);
    const { name: propertyName, ...rest } = definition as PropertyDefinition & { name: string };
    const values = { name: propertyName, json_schema: JSON.stringify(rest) };
    if (existing === null) await this.repo.createChild('metadef_properties', ns.id, values);
    else await this.repo.updateChild('metadef_properties', ns.id, (await this.childOf<PropertyRow>(ns, 'metadef_properties', existing)).id, values);
    const payload = propertyPayload(ns.namespace, propertyName, rest as Record<string, unknown>);
    this.notify.emit(existing === null ? 'metadef_property.create' : 'metadef_property.update', existing === null ? payload : { ...payload, name_old: existing });
    return definition;
  }

  // Objects

  async listObjects(ctx: RequestContext, name: string) {
    const ns = await this.visibleNamespace(ctx, name);
    return (await this.repo.children<ObjectRow>('metadef_objects', ns.id)).map((r) => ({ ns, row: r }));
  }

  async showObject(ctx: RequestContext, name: string, object: string) {
    const ns = await this.visibleNamespace(ctx, name);
    return { ns, row: await this.childOf<ObjectRow>(ns, 'metadef_objects', object) };
  }

  async saveObject(ctx: RequestContext, name: string, existing: string | null, body: unknown) {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, existing ? 'modify_metadef_object' : 'add_metadef_object');
    const object = checkedBody(body, validators.object) as unknown as ObjectDefinition;
    for (const def of Object.values(object.properties ?? {})) {
      validators.propertyInMap.validate(def);
      checkDefinition(def);
    }
    const values = objectValues(object);
    if (existing === null) await this.repo.createChild('metadef_objects', ns.id, values);
    else await this.repo.updateChild('metadef_objects', ns.id, (await this.childOf<ObjectRow>(ns, 'metadef_objects', existing)).id, values);
    const row = await this.childOf<ObjectRow>(ns, 'metadef_objects', object.name);
    const payload = objectPayload(ns.namespace, object as never, row);
    this.notify.emit(existing === null ? 'metadef_object.create' : 'metadef_object.update', existing === null ? payload : { ...payload, name_old: existing });
    // Glance answers a PUT with the object as sent, not as re-read: `required` not sent, not shown.
    return { ns, row, requiredSent: 'required' in object };
  }

  // Tags

  async listTags(ctx: RequestContext, name: string, q: { limit: number | null; marker: string | null; sortKey: 'created_at' | 'name' | 'updated_at'; sortDir: 'asc' | 'desc' }) {
    const ns = await this.visibleNamespace(ctx, name);
    const tags = await this.repo.children<NamedRow>('metadef_tags', ns.id);
    const value = (t: NamedRow) => (q.sortKey === 'name' ? t.name : (t[q.sortKey]?.getTime() ?? 0));
    tags.sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      const c = x < y ? -1 : x > y ? 1 : a.id - b.id;
      return q.sortDir === 'asc' ? c : -c;
    });
    let start = 0;
    if (q.marker !== null) {
      const at = tags.findIndex((t) => t.name === q.marker);
      if (at === -1) throw notFound(`Tag ${q.marker} not found in namespace ${name}.`);
      start = at + 1;
    }
    return tags.slice(start, q.limit === null ? undefined : start + q.limit);
  }

  async showTag(ctx: RequestContext, name: string, tag: string): Promise<NamedRow> {
    return this.childOf<NamedRow>(await this.visibleNamespace(ctx, name), 'metadef_tags', tag);
  }

  async createTag(ctx: RequestContext, name: string, tag: string): Promise<NamedRow> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, 'add_metadef_tag');
    validators.tag.validate({ name: tag });
    await this.repo.createChild('metadef_tags', ns.id, { name: tag });
    const row = await this.childOf<NamedRow>(ns, 'metadef_tags', tag);
    this.notify.emit('metadef_tag.create', childPayload(ns.namespace, row));
    return row;
  }

  /** Bulk create: replaces every tag unless `append` (X-Openstack-Append); all or nothing. */
  async createTags(ctx: RequestContext, name: string, body: unknown, append: boolean): Promise<string[]> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, 'add_metadef_tags');
    const names = (checkedBody(body, validators.tags).tags as { name: string }[] | undefined ?? []).map((t) => t.name);
    for (const n of names) validators.tag.validate({ name: n });
    if (names.length === 0) return [];
    await this.repo.transaction(async (repo) => {
      if (!append) await repo.deleteChildren('metadef_tags', ns.id);
      for (const n of names) await repo.createChild('metadef_tags', ns.id, { name: n });
    });
    for (const row of await this.repo.children<NamedRow>('metadef_tags', ns.id)) {
      if (names.includes(row.name)) this.notify.emit('metadef_tag.create', childPayload(ns.namespace, row));
    }
    return names;
  }

  async renameTag(ctx: RequestContext, name: string, tag: string, body: unknown): Promise<NamedRow> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, 'modify_metadef_tag');
    const { name: newName } = checkedBody(body, validators.tag) as { name: string };
    const row = await this.childOf<NamedRow>(ns, 'metadef_tags', tag);
    await this.repo.updateChild('metadef_tags', ns.id, row.id, { name: newName });
    const renamed = await this.childOf<NamedRow>(ns, 'metadef_tags', newName);
    this.notify.emit('metadef_tag.update', { ...childPayload(ns.namespace, renamed), name_old: tag });
    return renamed;
  }

  async deleteChild(ctx: RequestContext, name: string, table: ChildTable, child: string): Promise<void> {
    const action = { metadef_properties: 'remove_metadef_property', metadef_objects: 'delete_metadef_object', metadef_tags: 'delete_metadef_tag' }[table];
    const ns = await this.deletable(ctx, name, action);
    const row = await this.childOf<NamedRow>(ns, table, child);
    await this.repo.deleteChild(table, row.id);
    const kind = { metadef_properties: 'metadef_property', metadef_objects: 'metadef_object', metadef_tags: 'metadef_tag' }[table];
    this.notify.emit(`${kind}.delete`, deletedPayload(childPayload(ns.namespace, row)));
  }

  // Resource types

  async listResourceTypes(ctx: RequestContext) {
    this.policy.enforce(ctx, 'list_metadef_resource_types', { project_id: ctx.projectId });
    return this.repo.resourceTypes();
  }

  async listAssociations(ctx: RequestContext, name: string) {
    return this.repo.associations((await this.visibleNamespace(ctx, name)).id);
  }

  async associate(ctx: RequestContext, name: string, body: unknown) {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, 'add_metadef_resource_type_association');
    const association = checkedBody(body, validators.association) as { name: string; prefix?: string; properties_target?: string };
    await this.repo.associate(ns.id, association, false);
    const row = (await this.repo.associations(ns.id)).find((a) => a.name === association.name)!;
    this.notify.emit('metadef_resource_type.create', childPayload(ns.namespace, row));
    return row;
  }

  async dissociate(ctx: RequestContext, name: string, type: string): Promise<void> {
    const ns = await this.deletable(ctx, name, 'remove_metadef_resource_type_association');
    const row = (await this.repo.associations(ns.id)).find((a) => a.name === type);
    if (!row || !(await this.repo.dissociate(ns.id, type))) throw notFound(`Failed to find resource type ${type} to delete.`);
    this.notify.emit('metadef_resource_type.delete', deletedPayload(childPayload(ns.namespace, row)));
  }

  /** The whole namespace as a document (the API's show body, and the export file format). */
  async document(ns: NamespaceRow): Promise<NamespaceDocument> {
    const [associations, properties, objects, tags] = await Promise.all([
      this.repo.associations(ns.id),
      this.repo.children<PropertyRow>('metadef_properties', ns.id),
      this.repo.children<ObjectRow>('metadef_objects', ns.id),
      this.repo.children<NamedRow>('metadef_tags', ns.id),
    ]);
    return {
      namespace: ns.namespace,
      display_name: ns.display_name,
      description: ns.description,
      visibility: ns.visibility,
      protected: ns.protected,
      owner: ns.owner,
      resource_type_associations: associations.map((a) => ({ name: a.name, prefix: a.prefix, properties_target: a.properties_target })),
      properties: dict(properties.map((p) => [p.name, JSON.parse(p.json_schema) as PropertyDefinition])),
      objects: objects.map(objectDefinition),
      tags: tags.map((t) => ({ name: t.name })),
    };
  }

  /** A namespace the caller may see (admin, owner, or public); else 404. */
  private async visibleNamespace(ctx: RequestContext, name: string): Promise<NamespaceRow> {
    const ns = await this.repo.namespace(name);
    const visible = ns && (ctx.isAdmin || ns.visibility === 'public' || (ctx.projectId !== null && ns.owner === ctx.projectId));
    if (!ns || !visible || !this.policy.allowed(ctx, 'get_metadef_namespace', { project_id: ns.owner, visibility: ns.visibility })) {
      throw notFound(`Metadata definition namespace not found for namespace ${name}`);
    }
    return ns;
  }

  private async deletable(ctx: RequestContext, name: string, action: string): Promise<NamespaceRow> {
    const ns = await this.visibleNamespace(ctx, name);
    this.write(ctx, action);
    if (ns.protected) throw forbidden(`Namespace ${name} is protected and cannot be deleted, nor can anything in it.`);
    return ns;
  }

  private async childOf<T extends NamedRow>(ns: NamespaceRow, table: ChildTable, name: string): Promise<T> {
    const row = await this.repo.child<T>(table, ns.id, name);
    if (!row) throw notFound(`${{ metadef_properties: 'Property', metadef_objects: 'Object', metadef_tags: 'Tag' }[table]} ${name} not found in namespace ${ns.namespace}.`);
    return row;
  }

  private write(ctx: RequestContext, action: string): void {
    assertWritable(ctx);
    this.policy.enforce(ctx, action, { project_id: ctx.projectId });
  }
}

/**
 * Inserts a namespace document with all its children, in the caller's
 * transaction (API create and `manage metadefs load` alike).
 */
export async function importNamespace(repo: MetadefsRepository, doc: NamespaceDocument, protectedTypes: boolean): Promise<NamespaceRow> {
  const ns = await repo.createNamespace(namespaceFields(doc));
  await importChildren(repo, ns, doc, protectedTypes, 'skip');
  return ns;
}

/** Children of a document into a namespace: missing ones inserted; existing ones skipped or overwritten. */
export async function importChildren(repo: MetadefsRepository, ns: NamespaceRow, doc: NamespaceDocument, protectedTypes: boolean, existing: 'skip' | 'overwrite'): Promise<void> {
  const known = new Set((await repo.associations(ns.id)).map((a) => a.name));
  for (const a of doc.resource_type_associations ?? []) {
    if (known.has(a.name)) {
      if (existing === 'skip') continue;
      await repo.dissociate(ns.id, a.name);
    }
    await repo.associate(ns.id, a, protectedTypes);
  }
  const put = async (table: ChildTable, values: Record<string, unknown> & { name: string }) => {
    const row = await repo.child(table, ns.id, values.name);
    if (!row) return repo.createChild(table, ns.id, values);
    if (existing === 'overwrite') await repo.updateChild(table, ns.id, row.id, values);
  };
  for (const [name, def] of Object.entries(doc.properties ?? {})) {
    const { name: _n, ...rest } = def;
    await put('metadef_properties', { name, json_schema: JSON.stringify(rest) });
  }
  for (const object of doc.objects ?? []) await put('metadef_objects', objectValues(object));
  for (const tag of doc.tags ?? []) await put('metadef_tags', { name: tag.name });
}

export function namespaceFields(doc: NamespaceDocument): NamespaceFields {
  return {
    namespace: doc.namespace,
    display_name: doc.display_name ?? null,
    description: doc.description ?? null,
    // Glance's column default: a namespace loaded from a file without visibility is private.
    visibility: doc.visibility ?? 'private',
    protected: doc.protected ?? false,
    owner: doc.owner ?? 'admin',
  };
}

/** As Glance stores an object: `required` as comma-joined text, NULL when empty (read back as `[]`). */
function objectValues(o: ObjectDefinition) {
  return {
    name: o.name,
    description: o.description ?? null,
    required: o.required?.length ? o.required.join(',') : null,
    json_schema: JSON.stringify(o.properties ?? {}),
  };
}

export function objectDefinition(r: ObjectRow): ObjectDefinition {
  const out: ObjectDefinition = { name: r.name };
  if (r.description !== null) out.description = r.description;
  out.required = r.required ? r.required.split(',') : [];
  const properties = JSON.parse(r.json_schema) as Record<string, PropertyDefinition>;
  if (Object.keys(properties).length) out.properties = properties;
  return out;
}

function checkedBody(body: unknown, validator: SchemaValidator): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  for (const key of READ_ONLY) if (Object.hasOwn(body, key)) throw forbidden(`Attribute '${key}' is read-only.`);
  validator.validate(body);
  return body as Record<string, unknown>;
}

function namespaceBody(body: unknown): NamespaceDocument {
  const doc = checkedBody(body, validators.namespace) as unknown as NamespaceDocument;
  for (const def of Object.values(doc.properties ?? {})) checkDefinition(def);
  for (const object of doc.objects ?? []) {
    if (!object.name) throw badRequest("Provided object does not match schema 'namespace': every object needs a name");
    for (const def of Object.values(object.properties ?? {})) {
      validators.propertyInMap.validate(def);
      checkDefinition(def);
    }
  }
  for (const a of doc.resource_type_associations ?? []) validators.association.validate(a);
  return doc;
}

/** A property definition must itself be a usable JSON Schema fragment. */
function checkDefinition(def: PropertyDefinition): void {
  const { name: _n, title: _t, operators: _o, readonly: _r, ...schema } = def;
  if (typeof schema.pattern === 'string') {
    try {
      new RegExp(schema.pattern);
    } catch {
      throw badRequest(`Property definition has an invalid pattern: ${schema.pattern}`);
    }
  }
  if (typeof schema.minimum === 'number' && typeof schema.maximum === 'number' && schema.minimum > schema.maximum) {
    throw badRequest('Property definition has a minimum greater than its maximum.');
  }
  try {
    definitionChecker.compile(schema as JsonSchema);
  } catch (err) {
    throw badRequest(`Property definition is not a valid JSON Schema fragment: ${(err as Error).message}`);
  }
}

export function withPrefix(doc: NamespaceDocument, prefix: string): NamespaceDocument {
  return { ...doc, properties: prefixed(doc.properties, prefix), objects: doc.objects?.map((o) => prefixedObject(o, prefix)) };
}

export function prefixedObject(o: ObjectDefinition, prefix: string): ObjectDefinition {
  return prefix ? { ...o, properties: prefixed(o.properties, prefix), required: o.required?.map((r) => prefix + r) } : o;
}

function prefixed(props: Record<string, PropertyDefinition> | undefined, prefix: string) {
  return props && dict(Object.entries(props).map(([k, v]) => [prefix + k, v]));
}
