/**
 * The JSON Schema documents Glance publishes under /v2/schemas, property for
 * property (shared/spec/schemas.md). The same documents validate requests.
 */
export type JsonSchema = Record<string, unknown>;

export const UUID_PATTERN =
  '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

export interface ImageSchemaOptions {
  diskFormats: string[];
  containerFormats: string[];
  /** The operator's schema-image.json, already read and parsed. */
  custom?: unknown;
}

function baseImageProperties(o: ImageSchemaOptions): Record<string, JsonSchema> {
  return {
    id: { type: 'string', description: 'An identifier for the image', pattern: UUID_PATTERN },
    name: { type: ['null', 'string'], description: 'Descriptive name for the image', maxLength: 255 },
    status: {
      type: 'string',
      readOnly: true,
      description: 'Status of the image',
      enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'],
    },
    visibility: { type: 'string', description: 'Scope of image accessibility', enum: ['community', 'public', 'private', 'shared'] },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: { type: ['null', 'string'], readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 },
    os_hash_algo: { type: ['null', 'string'], readOnly: true, description: 'Algorithm to calculate the os_hash_value', maxLength: 64 },
    os_hash_value: { type: ['null', 'string'], readOnly: true, description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo', maxLength: 128 },
    owner: { type: ['null', 'string'], description: 'Owner of the image', maxLength: 255 },
    size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
    virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
    container_format: { type: ['null', 'string'], description: 'Format of the container', enum: [null, ...o.containerFormats] },
    disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...o.diskFormats] },
    created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
    updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
    tags: { type: 'array', description: 'List of strings related to the image', items: { type: 'string', maxLength: 255 } },
    direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: { type: 'string', readOnly: true, description: 'An image self url' },
    file: { type: 'string', readOnly: true, description: 'An image file url' },
    stores: { type: 'string', readOnly: true, description: 'Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers.' },
    schema: { type: 'string', readOnly: true, description: 'An image schema url' },
    locations: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          url: { type: 'string', maxLength: 255 },
          metadata: { type: 'object' },
          validation_data: {
            description: 'Values to be used to populate the corresponding image properties. If the image status is not \'queued\', values must exactly match those already contained in the image properties.',
            type: 'object',
            writeOnly: true,
            additionalProperties: false,
            properties: {
              checksum: { type: 'string', minLength: 32, maxLength: 32 },
              os_hash_algo: { type: 'string', maxLength: 64 },
              os_hash_value: { type: 'string', maxLength: 128 },
            },
            required: ['os_hash_algo', 'os_hash_value'],
          },
        },
        required: ['url', 'metadata'],
      },
      description: 'A set of URLs to access the image file kept in external store',
    },
  };
}

const IMAGE_LINKS = [
  { rel: 'self', href: '{self}' },
  { rel: 'enclosure', href: '{file}' },
  { rel: 'describedby', href: '{schema}' },
];

export class SchemaConfigError extends Error {}

/** Reads both forms of schema-image.json: a plain property map, or `{properties, required}`. */
function customProperties(custom: unknown): { properties: Record<string, JsonSchema>; required: string[] } {
  if (custom === undefined || custom === null) return { properties: {}, required: [] };
  if (typeof custom !== 'object' || Array.isArray(custom)) throw new SchemaConfigError('schema-image.json must hold a JSON object');
  const obj = custom as Record<string, unknown>;
  const extended = 'properties' in obj && typeof obj.properties === 'object' && !Array.isArray(obj.properties) &&
    Object.keys(obj).every((k) => k === 'properties' || k === 'required');
  const properties = (extended ? obj.properties : obj) as Record<string, JsonSchema>;
  const required = extended && Array.isArray(obj.required) ? (obj.required as string[]) : [];
  for (const [name, def] of Object.entries(properties)) {
    if (!def || typeof def !== 'object' || Array.isArray(def)) {
      throw new SchemaConfigError(`schema-image.json: property "${name}" must be a JSON object`);
    }
  }
  for (const name of required) {
    if (!(name in properties)) throw new SchemaConfigError(`schema-image.json: required property "${name}" is not defined`);
  }
  return { properties, required };
}

export function imageSchema(o: ImageSchemaOptions): JsonSchema {
  const base = baseImageProperties(o);
  const custom = customProperties(o.custom);
  const properties: Record<string, JsonSchema> = { ...base };
  for (const [name, def] of Object.entries(custom.properties)) {
    if (name in base) {
      if (JSON.stringify(stripDescription(def)) !== JSON.stringify(stripDescription(base[name]))) {
        throw new SchemaConfigError(
          `schema-image.json redefines the base image property "${name}" differently; remove it from the file`,
        );
      }
      continue;
    }
    properties[name] = { ...def, is_base: false };
  }
  const schema: JsonSchema = { name: 'image', properties, additionalProperties: { type: 'string' }, links: IMAGE_LINKS };
  if (custom.required.length) schema.required = custom.required;
  return schema;
}

function stripDescription(def: JsonSchema): JsonSchema {
  const { description: _d, ...rest } = def;
  return rest;
}

export function imagesSchema(image: JsonSchema): JsonSchema {
  return {
    name: 'images',
    properties: {
      images: { type: 'array', items: image },
      first: { type: 'string' },
      next: { type: 'string' },
      schema: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export const MEMBER_SCHEMA: JsonSchema = {
  name: 'member',
  properties: {
    member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
    image_id: { type: 'string', description: 'An identifier for the image', pattern: UUID_PATTERN },
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
    status: { type: 'string', description: 'The status of this image member', enum: ['pending', 'accepted', 'rejected'] },
    schema: { readOnly: true, type: 'string' },
  },
};

export const MEMBERS_SCHEMA: JsonSchema = {
  name: 'members',
  properties: { members: { type: 'array', items: MEMBER_SCHEMA }, schema: { type: 'string' } },
  links: [{ rel: 'describedby', href: '{schema}' }],
};

const TASK_PROPERTIES: Record<string, JsonSchema> = {
  id: { description: 'An identifier for the task', pattern: UUID_PATTERN, type: 'string' },
  type: { description: 'The type of task represented by this content', enum: ['import', 'api_image_import', 'location_import'], type: 'string' },
  status: { description: 'The current status of this task', enum: ['pending', 'processing', 'success', 'failure'], type: 'string' },
  input: { description: 'The parameters required by task, JSON blob', type: ['null', 'object'] },
  result: { description: 'The result of current task, JSON blob', type: ['null', 'object'] },
  owner: { description: 'An identifier for the owner of this task', type: 'string' },
  message: { description: 'Human-readable informative message only included when appropriate (usually on failure)', type: 'string' },
  image_id: { description: 'Image associated with the task', type: 'string' },
  request_id: { description: 'Human-readable informative request-id', type: 'string' },
  user_id: { description: 'User associated with the task', type: 'string' },
  expires_at: { description: 'Datetime when this resource would be subject to removal', type: ['null', 'string'] },
  created_at: { description: 'Datetime when this resource was created', type: 'string' },
  updated_at: { description: 'Datetime when this resource was updated', type: 'string' },
  self: { readOnly: true, type: 'string' },
  schema: { readOnly: true, type: 'string' },
};

export const TASK_SCHEMA: JsonSchema = { name: 'task', properties: TASK_PROPERTIES };

export const TASKS_SCHEMA: JsonSchema = (() => {
  const { input: _i, result: _r, message: _m, ...partial } = TASK_PROPERTIES;
  return {
    name: 'tasks',
    properties: { tasks: { type: 'array', items: { name: 'task', properties: partial } }, schema: { type: 'string' } },
    links: [{ rel: 'describedby', href: '{schema}' }],
  };
})();
