/**
 * Glance's head schema (alembic `2024_1_contract01`), table for table, column
 * for column, index for index, as `glance-manage db_sync` leaves it
 * (shared/spec/database.md §3). Written as DDL per dialect so the result is
 * byte-for-byte what Glance's own migrations produce.
 */
import type { DialectName } from './connection.js';

export const GLANCE_HEAD = '2024_1_contract01';
/** Heads Glimpse runs on unchanged: Zed … 2023.2, and 2024.1 onwards. */
export const KNOWN_HEADS = ['wallaby_contract01', '2023_1_contract01', GLANCE_HEAD];

interface Types {
  bool: string;
  time: string;
  bigint: string;
  pk: string;
  bigPk: string;
  visibility: string;
  tableSuffix: string;
  boolCheck: (col: string) => string;
}

const TYPES: Record<DialectName, Types> = {
  sqlite: {
    bool: 'BOOLEAN',
    time: 'DATETIME',
    bigint: 'BIGINT',
    pk: 'INTEGER NOT NULL',
    bigPk: 'INTEGER NOT NULL',
    visibility: 'VARCHAR(9)',
    tableSuffix: '',
    boolCheck: (col) => `, CHECK (${col} IN (0, 1))`,
  },
  mysql: {
    bool: 'BOOL',
    time: 'DATETIME',
    bigint: 'BIGINT',
    pk: 'INTEGER NOT NULL AUTO_INCREMENT',
    bigPk: 'BIGINT NOT NULL AUTO_INCREMENT',
    visibility: "ENUM('private','public','shared','community')",
    tableSuffix: ' ENGINE=InnoDB DEFAULT CHARSET=utf8',
    boolCheck: (col) => `, CHECK (${col} IN (0, 1))`,
  },
  postgres: {
    bool: 'BOOLEAN',
    time: 'TIMESTAMP WITHOUT TIME ZONE',
    bigint: 'BIGINT',
    pk: 'SERIAL NOT NULL',
    bigPk: 'BIGSERIAL NOT NULL',
    visibility: 'image_visibility',
    tableSuffix: '',
    boolCheck: () => '',
  },
};

export function glanceSchemaDdl(dialect: DialectName): string[] {
  const t = TYPES[dialect];
  const softDelete = `created_at ${t.time} NOT NULL, updated_at ${t.time}, deleted_at ${t.time}, deleted ${t.bool} NOT NULL`;
  const table = (name: string, body: string) => `CREATE TABLE ${name} (${body})${t.tableSuffix}`;
  const index = (name: string, tableName: string, cols: string, unique = false) =>
    `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${name} ON ${tableName} (${cols})`;
  const falseDefault = dialect === 'postgres' ? 'false' : '0';

  return [
    ...(dialect === 'postgres' ? ["CREATE TYPE image_visibility AS ENUM ('private', 'public', 'shared', 'community')"] : []),
    table('alembic_version', 'version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)'),
    table(
      'images',
      `id VARCHAR(36) NOT NULL, name VARCHAR(255), size ${t.bigint}, status VARCHAR(30) NOT NULL, ${softDelete}, ` +
        `disk_format VARCHAR(20), container_format VARCHAR(20), checksum VARCHAR(32), owner VARCHAR(255), ` +
        `min_disk INTEGER NOT NULL, min_ram INTEGER NOT NULL, protected ${t.bool} DEFAULT ${falseDefault} NOT NULL, ` +
        `virtual_size ${t.bigint}, visibility ${t.visibility} DEFAULT 'shared' NOT NULL, ` +
        `os_hidden ${t.bool} DEFAULT ${falseDefault} NOT NULL, os_hash_algo VARCHAR(64), os_hash_value VARCHAR(128), ` +
        `PRIMARY KEY (id)${dialect === 'mysql' ? t.boolCheck('deleted') + t.boolCheck('protected') : ''}`,
    ),
    index('checksum_image_idx', 'images', 'checksum'),
    index('ix_images_deleted', 'images', 'deleted'),
    index('owner_image_idx', 'images', 'owner'),
    index('created_at_image_idx', 'images', 'created_at'),
    index('updated_at_image_idx', 'images', 'updated_at'),
    index('visibility_image_idx', 'images', 'visibility'),
    index('os_hidden_image_idx', 'images', 'os_hidden'),
    index('os_hash_value_image_idx', 'images', 'os_hash_value'),
    table(
      'image_properties',
      `id ${t.pk}, image_id VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, value TEXT, ${softDelete}, ` +
        `PRIMARY KEY (id), FOREIGN KEY(image_id) REFERENCES images (id), ` +
        `CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name)${t.boolCheck('deleted')}`,
    ),
    index('ix_image_properties_image_id', 'image_properties', 'image_id'),
    index('ix_image_properties_deleted', 'image_properties', 'deleted'),
    table(
      'image_locations',
      `id ${t.pk}, image_id VARCHAR(36) NOT NULL, value TEXT NOT NULL, ${softDelete}, meta_data TEXT, ` +
        `status VARCHAR(30) DEFAULT 'active' NOT NULL, PRIMARY KEY (id), ` +
        `FOREIGN KEY(image_id) REFERENCES images (id)${t.boolCheck('deleted')}`,
    ),
    index('ix_image_locations_image_id', 'image_locations', 'image_id'),
    index('ix_image_locations_deleted', 'image_locations', 'deleted'),
    table(
      'image_members',
      `id ${t.pk}, image_id VARCHAR(36) NOT NULL, member VARCHAR(255) NOT NULL, can_share ${t.bool} NOT NULL, ` +
        `${softDelete}, status VARCHAR(20) DEFAULT 'pending' NOT NULL, PRIMARY KEY (id), ` +
        `FOREIGN KEY(image_id) REFERENCES images (id), ` +
        `CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at)` +
        `${t.boolCheck('can_share')}${t.boolCheck('deleted')}`,
    ),
    index('ix_image_members_image_id', 'image_members', 'image_id'),
    index('ix_image_members_deleted', 'image_members', 'deleted'),
    index('ix_image_members_image_id_member', 'image_members', 'image_id, member'),
    table(
      'image_tags',
      `id ${t.pk}, image_id VARCHAR(36) NOT NULL, value VARCHAR(255) NOT NULL, ${softDelete}, PRIMARY KEY (id), ` +
        `FOREIGN KEY(image_id) REFERENCES images (id)${t.boolCheck('deleted')}`,
    ),
    index('ix_image_tags_image_id', 'image_tags', 'image_id'),
    index('ix_image_tags_image_id_tag_value', 'image_tags', 'image_id, value'),
    table(
      'tasks',
      `id VARCHAR(36) NOT NULL, type VARCHAR(30) NOT NULL, status VARCHAR(30) NOT NULL, owner VARCHAR(255) NOT NULL, ` +
        `expires_at ${t.time}, ${softDelete}, image_id VARCHAR(36), request_id VARCHAR(64), user_id VARCHAR(64), ` +
        `PRIMARY KEY (id)${t.boolCheck('deleted')}`,
    ),
    index('ix_tasks_type', 'tasks', 'type'),
    index('ix_tasks_status', 'tasks', 'status'),
    index('ix_tasks_owner', 'tasks', 'owner'),
    index('ix_tasks_deleted', 'tasks', 'deleted'),
    index('ix_tasks_updated_at', 'tasks', 'updated_at'),
    index('ix_tasks_image_id', 'tasks', 'image_id'),
    table(
      'task_info',
      'task_id VARCHAR(36) NOT NULL, input TEXT, result TEXT, message TEXT, PRIMARY KEY (task_id), ' +
        'FOREIGN KEY(task_id) REFERENCES tasks (id)',
    ),
    table(
      'metadef_namespaces',
      `id ${t.pk}, namespace VARCHAR(80) NOT NULL, display_name VARCHAR(80), description TEXT, ` +
        `visibility VARCHAR(32), protected ${t.bool}, owner VARCHAR(255) NOT NULL, created_at ${t.time} NOT NULL, ` +
        `updated_at ${t.time}, PRIMARY KEY (id), CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace)` +
        `${t.boolCheck('protected')}`,
    ),
    index('ix_metadef_namespaces_owner', 'metadef_namespaces', 'owner'),
    table(
      'metadef_resource_types',
      `id ${t.pk}, name VARCHAR(80) NOT NULL, protected ${t.bool} NOT NULL, created_at ${t.time} NOT NULL, ` +
        `updated_at ${t.time}, PRIMARY KEY (id), CONSTRAINT uq_metadef_resource_types_name UNIQUE (name)` +
        `${t.boolCheck('protected')}`,
    ),
    table(
      'metadef_namespace_resource_types',
      `resource_type_id INTEGER NOT NULL, namespace_id INTEGER NOT NULL, properties_target VARCHAR(80), ` +
        `prefix VARCHAR(80), created_at ${t.time} NOT NULL, updated_at ${t.time}, ` +
        `PRIMARY KEY (resource_type_id, namespace_id), ` +
        `FOREIGN KEY(resource_type_id) REFERENCES metadef_resource_types (id), ` +
        `FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id)`,
    ),
    index('ix_metadef_ns_res_types_namespace_id', 'metadef_namespace_resource_types', 'namespace_id'),
    table(
      'metadef_objects',
      `id ${t.pk}, namespace_id INTEGER NOT NULL, name VARCHAR(80) NOT NULL, description TEXT, required TEXT, ` +
        `json_schema TEXT NOT NULL, created_at ${t.time} NOT NULL, updated_at ${t.time}, PRIMARY KEY (id), ` +
        `FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), ` +
        `CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name)`,
    ),
    index('ix_metadef_objects_name', 'metadef_objects', 'name'),
    table(
      'metadef_properties',
      `id ${t.pk}, namespace_id INTEGER NOT NULL, name VARCHAR(80) NOT NULL, json_schema TEXT NOT NULL, ` +
        `created_at ${t.time} NOT NULL, updated_at ${t.time}, PRIMARY KEY (id), ` +
        `FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), ` +
        `CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name)`,
    ),
    index('ix_metadef_properties_name', 'metadef_properties', 'name'),
    table(
      'metadef_tags',
      `id ${t.pk}, namespace_id INTEGER NOT NULL, name VARCHAR(80) NOT NULL, created_at ${t.time} NOT NULL, ` +
        `updated_at ${t.time}, PRIMARY KEY (id), FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id), ` +
        `CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name)`,
    ),
    index('ix_metadef_tags_name', 'metadef_tags', 'name'),
    table(
      'node_reference',
      `node_reference_id ${t.bigPk}, node_reference_url VARCHAR(255) NOT NULL, PRIMARY KEY (node_reference_id), ` +
        'CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)',
    ),
    table(
      'cached_images',
      `id ${t.bigPk}, image_id VARCHAR(36) NOT NULL, last_accessed ${t.time} NOT NULL, ` +
        `last_modified ${t.time} NOT NULL, size ${t.bigint} NOT NULL, hits INTEGER NOT NULL, checksum VARCHAR(32), ` +
        `node_reference_id ${dialect === 'sqlite' ? 'INTEGER' : t.bigint} NOT NULL, PRIMARY KEY (id), ` +
        'FOREIGN KEY(node_reference_id) REFERENCES node_reference (node_reference_id), ' +
        'CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id)',
    ),
    `INSERT INTO alembic_version (version_num) VALUES ('${GLANCE_HEAD}')`,
  ];
}
