/**
 * Notification payloads with Glance's fields (glance/notifier.py's
 * format_*_notification): what Ceilometer and auditors read. Locations are
 * never included (they may hold credentials), nor a task's input.
 */
import type { Image } from '../domain/image.js';
import type { Member } from '../domain/member.js';
import type { Task } from '../domain/task.js';

/** oslo's isotime: whole seconds, `Z`. */
export function isotime(date: Date | null = new Date()): string | null {
  return date ? `${date.toISOString().slice(0, 19)}Z` : null;
}

export function imagePayload(image: Image): Record<string, unknown> {
  return {
    id: image.id,
    name: image.name,
    status: image.status,
    created_at: isotime(image.created_at),
    updated_at: isotime(image.updated_at),
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    protected: image.protected,
    checksum: image.checksum,
    owner: image.owner,
    disk_format: image.disk_format,
    container_format: image.container_format,
    size: image.size,
    virtual_size: image.virtual_size,
    is_public: image.visibility === 'public',
    visibility: image.visibility,
    properties: { ...image.properties },
    tags: [...image.tags],
    deleted: false,
    deleted_at: null,
  };
}

/** What `image.prepare` and `image.upload` add: the import's store lists. */
export function importProperties(image: Image): Record<string, string[]> {
  const list = (value: string | undefined) => (value ? value.split(',') : []);
  return {
    os_glance_importing_to_stores: list(image.properties.os_glance_importing_to_stores),
    os_glance_failed_import: list(image.properties.os_glance_failed_import),
  };
}

export function deletedPayload(payload: Record<string, unknown>): Record<string, unknown> {
  return { ...payload, deleted: true, deleted_at: isotime() };
}

export function memberPayload(member: Member): Record<string, unknown> {
  return {
    image_id: member.image_id,
    member_id: member.member_id,
    status: member.status,
    created_at: isotime(member.created_at),
    updated_at: isotime(member.updated_at),
    deleted: false,
    deleted_at: null,
  };
}

export function taskPayload(task: Task): Record<string, unknown> {
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    result: null,
    owner: task.owner,
    message: null,
    expires_at: isotime(task.expires_at),
    created_at: isotime(task.created_at),
    updated_at: isotime(task.updated_at),
    deleted: false,
    deleted_at: null,
  };
}

/** `image.send`: who received how many bytes of whose image, and where they went (`destination_ip`, as older Glance sent it). */
export function sendPayload(image: Image, bytesSent: number, receiver: { projectId: string | null; userId: string | null }, destination: string | null): Record<string, unknown> {
  return {
    bytes_sent: bytesSent,
    image_id: image.id,
    owner_id: image.owner,
    receiver_tenant_id: receiver.projectId,
    receiver_user_id: receiver.userId,
    destination_ip: destination,
  };
}

/** The metadefs payloads: the namespace's fields, or a child's with its namespace's name (`name_old` as Glance fills it: the same name). */
export function namespacePayload(ns: { namespace: string; display_name: string | null; description: string | null; visibility: string | null; protected: boolean; owner: string; created_at: Date; updated_at: Date | null }): Record<string, unknown> {
  return {
    namespace: ns.namespace,
    namespace_old: ns.namespace,
    display_name: ns.display_name,
    protected: ns.protected,
    visibility: ns.visibility,
    owner: ns.owner,
    description: ns.description,
    created_at: isotime(ns.created_at),
    updated_at: isotime(ns.updated_at),
    deleted: false,
    deleted_at: null,
  };
}

const PROPERTY_FIELDS = ['type', 'title', 'description', 'default', 'minimum', 'maximum', 'enum', 'pattern', 'minLength', 'maxLength', 'confidential', 'items', 'uniqueItems', 'minItems', 'maxItems', 'additionalItems'];

export function propertyPayload(namespace: string, name: string, schema: Record<string, unknown>): Record<string, unknown> {
  return {
    namespace,
    name,
    name_old: name,
    ...Object.fromEntries(PROPERTY_FIELDS.map((f) => [f, schema[f] ?? null])),
    deleted: false,
    deleted_at: null,
  };
}

export function objectPayload(namespace: string, object: { name: string; description?: string | null; required?: string[] | null; properties?: Record<string, Record<string, unknown>> }, times: { created_at: Date; updated_at: Date | null }): Record<string, unknown> {
  return {
    namespace,
    name: object.name,
    name_old: object.name,
    properties: Object.entries(object.properties ?? {}).map(([name, p]) => ({ name, ...Object.fromEntries(PROPERTY_FIELDS.map((f) => [f, p[f] || null])) })),
    required: object.required ?? null,
    description: object.description ?? null,
    created_at: isotime(times.created_at),
    updated_at: isotime(times.updated_at),
    deleted: false,
    deleted_at: null,
  };
}

export function childPayload(namespace: string, row: { name: string; created_at: Date; updated_at: Date | null; prefix?: string | null; properties_target?: string | null }): Record<string, unknown> {
  return {
    namespace,
    name: row.name,
    name_old: row.name,
    ...('prefix' in row ? { prefix: row.prefix, properties_target: row.properties_target } : {}),
    created_at: isotime(row.created_at),
    updated_at: isotime(row.updated_at),
    deleted: false,
    deleted_at: null,
  };
}
