/** The metadefs schema documents Glance publishes (shared/spec/schemas.md §7–§17). */
import type { JsonSchema } from './schemas.js';

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string', null];
const positiveInteger = { type: 'integer', minimum: 0 };
const positiveIntegerDefault0 = { allOf: [{ $ref: '#/definitions/positiveInteger' }, { default: 0 }] };
const stringArray = { type: 'array', items: { type: 'string' }, uniqueItems: true };
const stamp = (what: string) => ({ type: 'string', readOnly: true, description: what, format: 'date-time' });

/** The body of one property definition (no `name` requirement). */
const PROPERTY_FIELDS: Record<string, JsonSchema> = {
  name: { type: 'string', maxLength: 80 },
  title: { type: 'string' },
  description: { type: 'string' },
  operators: { type: 'array', items: { type: 'string' } },
  type: { type: 'string', enum: TYPES },
  required: { $ref: '#/definitions/stringArray' },
  minimum: { type: 'number' },
  maximum: { type: 'number' },
  maxLength: { $ref: '#/definitions/positiveInteger' },
  minLength: { $ref: '#/definitions/positiveIntegerDefault0' },
  pattern: { type: 'string', format: 'regex' },
  enum: { type: 'array' },
  readonly: { type: 'boolean' },
  default: {},
  items: { type: 'object', properties: { type: { type: 'string', enum: TYPES }, enum: { type: 'array' } } },
  maxItems: { $ref: '#/definitions/positiveInteger' },
  minItems: { $ref: '#/definitions/positiveIntegerDefault0' },
  uniqueItems: { type: 'boolean', default: false },
  additionalItems: { type: 'boolean' },
};

const propertyMap = { type: 'object', additionalProperties: { type: 'object', required: ['title', 'type'], properties: PROPERTY_FIELDS } };
const DEFINITIONS = { positiveInteger, positiveIntegerDefault0, stringArray, property: propertyMap };

export const NAMESPACE_SCHEMA: JsonSchema = {
  name: 'namespace',
  properties: {
    namespace: { type: 'string', description: 'The unique namespace text.', maxLength: 80 },
    display_name: { type: 'string', description: 'The user friendly name for the namespace. Used by UI if available.', maxLength: 80 },
    description: { type: 'string', description: 'Provides a user friendly description of the namespace.', maxLength: 500 },
    visibility: { type: 'string', description: 'Scope of namespace accessibility.', enum: ['public', 'private'] },
    protected: { type: 'boolean', description: 'If true, namespace will not be deletable.' },
    owner: { type: 'string', description: 'Owner of the namespace.', maxLength: 255 },
    created_at: stamp('Date and time of namespace creation'),
    updated_at: stamp('Date and time of the last namespace modification'),
    schema: { readOnly: true, type: 'string' },
    self: { readOnly: true, type: 'string' },
    resource_type_associations: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, prefix: { type: 'string' }, properties_target: { type: 'string' } } },
    },
    properties: { $ref: '#/definitions/property' },
    objects: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          required: { $ref: '#/definitions/stringArray' },
          properties: { $ref: '#/definitions/property' },
        },
      },
    },
    tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
  },
  additionalProperties: false,
  definitions: DEFINITIONS,
  required: ['namespace'],
};

const { definitions: _nsDefs, ...namespaceItem } = NAMESPACE_SCHEMA;

const collectionLinks = [
  { rel: 'first', href: '{first}' },
  { rel: 'next', href: '{next}' },
  { rel: 'describedby', href: '{schema}' },
];

export const NAMESPACES_SCHEMA: JsonSchema = {
  name: 'namespaces',
  properties: {
    namespaces: { type: 'array', items: namespaceItem },
    first: { type: 'string' },
    next: { type: 'string' },
    schema: { type: 'string' },
  },
  links: collectionLinks,
  definitions: DEFINITIONS,
};

export const RESOURCE_TYPE_SCHEMA: JsonSchema = {
  name: 'resource_type_association',
  properties: {
    name: {
      type: 'string',
      description: 'Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html',
      maxLength: 80,
    },
    prefix: { type: 'string', description: 'Specifies the prefix to use for the given resource type.', maxLength: 80 },
    properties_target: { type: 'string', description: 'Some resource types allow more than one key / value pair per instance.', maxLength: 80 },
    created_at: stamp('Date and time of resource type association'),
    updated_at: stamp('Date and time of the last resource type association modification'),
  },
  additionalProperties: false,
  required: ['name'],
};

export const RESOURCE_TYPES_SCHEMA: JsonSchema = {
  name: 'resource_type_associations',
  properties: {
    resource_type_associations: { type: 'array', items: RESOURCE_TYPE_SCHEMA },
    first: { type: 'string' },
    next: { type: 'string' },
    schema: { type: 'string' },
  },
  links: collectionLinks,
};

export const PROPERTY_SCHEMA: JsonSchema = {
  name: 'property',
  properties: PROPERTY_FIELDS,
  additionalProperties: false,
  definitions: { positiveInteger, positiveIntegerDefault0, stringArray: { ...stringArray, minItems: 1 } },
  required: ['type', 'title', 'name'],
};

export const PROPERTIES_SCHEMA: JsonSchema = {
  name: 'properties',
  properties: {
    // The item is the property schema as Glance renders a schema (name, properties, additionalProperties, required).
    properties: { type: 'object', additionalProperties: { name: 'property', properties: PROPERTY_FIELDS, additionalProperties: false, required: ['type', 'title'] } },
    first: { type: 'string' },
    next: { type: 'string' },
    schema: { type: 'string' },
  },
  links: collectionLinks,
  definitions: PROPERTY_SCHEMA.definitions,
};

export const OBJECT_SCHEMA: JsonSchema = {
  name: 'object',
  properties: {
    name: { type: 'string', maxLength: 80 },
    description: { type: 'string' },
    required: { $ref: '#/definitions/stringArray' },
    properties: { $ref: '#/definitions/property' },
    schema: { readOnly: true, type: 'string' },
    self: { readOnly: true, type: 'string' },
    created_at: stamp('Date and time of object creation'),
    updated_at: stamp('Date and time of the last object modification'),
  },
  additionalProperties: false,
  definitions: DEFINITIONS,
  required: ['name'],
};

const { definitions: _objDefs, ...objectItem } = OBJECT_SCHEMA;

export const OBJECTS_SCHEMA: JsonSchema = {
  name: 'objects',
  properties: { objects: { type: 'array', items: objectItem }, first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
  links: collectionLinks,
  definitions: DEFINITIONS,
};

export const TAG_SCHEMA: JsonSchema = {
  name: 'tag',
  properties: {
    name: { type: 'string', maxLength: 80 },
    created_at: stamp('Date and time of tag creation'),
    updated_at: stamp('Date and time of the last tag modification'),
  },
  additionalProperties: false,
  required: ['name'],
};

export const TAGS_SCHEMA: JsonSchema = {
  name: 'tags',
  properties: { tags: { type: 'array', items: TAG_SCHEMA }, first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
  links: collectionLinks,
};

/** Not published: the body of a bulk tag create. */
export const TAGS_BODY_SCHEMA: JsonSchema = {
  name: 'tags',
  properties: {
    tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false } },
  },
  additionalProperties: false,
};

export const METADEF_SCHEMAS: Record<string, JsonSchema> = {
  'metadefs/namespace': NAMESPACE_SCHEMA,
  'metadefs/namespaces': NAMESPACES_SCHEMA,
  'metadefs/resource_type': RESOURCE_TYPE_SCHEMA,
  'metadefs/resource_types': RESOURCE_TYPES_SCHEMA,
  'metadefs/property': PROPERTY_SCHEMA,
  'metadefs/properties': PROPERTIES_SCHEMA,
  'metadefs/object': OBJECT_SCHEMA,
  'metadefs/objects': OBJECTS_SCHEMA,
  'metadefs/tag': TAG_SCHEMA,
  'metadefs/tags': TAGS_SCHEMA,
};
