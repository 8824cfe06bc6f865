/**
 * Kysely's view of Glance's tables (see shared/spec/database.md). Booleans are
 * 0/1 on SQLite and MySQL and native on PostgreSQL; timestamps are text on
 * SQLite and dates elsewhere: `dialect.ts` converts both ways.
 */
import type { Generated } from 'kysely';

export type DbBool = boolean | number;
export type DbTime = string | Date;

interface SoftDelete {
  created_at: DbTime;
  updated_at: DbTime | null;
  deleted_at: DbTime | null;
  deleted: DbBool;
}

export interface ImagesTable extends SoftDelete {
  id: string;
  name: string | null;
  size: number | null;
  status: string;
  disk_format: string | null;
  container_format: string | null;
  checksum: string | null;
  owner: string | null;
  min_disk: number;
  min_ram: number;
  protected: DbBool;
  virtual_size: number | null;
  visibility: string;
  os_hidden: DbBool;
  os_hash_algo: string | null;
  os_hash_value: string | null;
}

export interface ImagePropertiesTable extends SoftDelete {
  id: Generated<number>;
  image_id: string;
  name: string;
  value: string | null;
}

export interface ImageLocationsTable extends SoftDelete {
  id: Generated<number>;
  image_id: string;
  value: string;
  meta_data: string | null;
  status: string;
}

export interface ImageMembersTable extends SoftDelete {
  id: Generated<number>;
  image_id: string;
  member: string;
  can_share: DbBool;
  status: string;
}

export interface ImageTagsTable extends SoftDelete {
  id: Generated<number>;
  image_id: string;
  value: string;
}

export interface TasksTable extends SoftDelete {
  id: string;
  type: string;
  status: string;
  owner: string;
  expires_at: DbTime | null;
  image_id: string | null;
  request_id: string | null;
  user_id: string | null;
}

export interface TaskInfoTable {
  task_id: string;
  input: string | null;
  result: string | null;
  message: string | null;
}

interface MetadefTimes {
  created_at: DbTime;
  updated_at: DbTime | null;
}

export interface MetadefNamespacesTable extends MetadefTimes {
  id: Generated<number>;
  namespace: string;
  display_name: string | null;
  description: string | null;
  visibility: string | null;
  protected: DbBool | null;
  owner: string;
}

export interface MetadefResourceTypesTable extends MetadefTimes {
  id: Generated<number>;
  name: string;
  protected: DbBool;
}

export interface MetadefNamespaceResourceTypesTable extends MetadefTimes {
  resource_type_id: number;
  namespace_id: number;
  properties_target: string | null;
  prefix: string | null;
}

export interface MetadefObjectsTable extends MetadefTimes {
  id: Generated<number>;
  namespace_id: number;
  name: string;
  description: string | null;
  required: string | null;
  json_schema: string;
}

export interface MetadefPropertiesTable extends MetadefTimes {
  id: Generated<number>;
  namespace_id: number;
  name: string;
  json_schema: string;
}

export interface MetadefTagsTable extends MetadefTimes {
  id: Generated<number>;
  namespace_id: number;
  name: string;
}

export interface AlembicVersionTable {
  version_num: string;
}

/** The image cache's nodes (`worker_self_reference_url`), 2024.1+. */
export interface NodeReferenceTable {
  node_reference_id: Generated<number>;
  node_reference_url: string;
}

/** What each node's image cache holds (the centralized_db driver), 2024.1+. Rows are hard-deleted. */
export interface CachedImagesTable {
  id: Generated<number>;
  image_id: string;
  last_accessed: DbTime;
  last_modified: DbTime;
  size: number;
  hits: number;
  checksum: string | null;
  node_reference_id: number;
}

export interface Database {
  images: ImagesTable;
  node_reference: NodeReferenceTable;
  cached_images: CachedImagesTable;
  image_properties: ImagePropertiesTable;
  image_locations: ImageLocationsTable;
  image_members: ImageMembersTable;
  image_tags: ImageTagsTable;
  tasks: TasksTable;
  task_info: TaskInfoTable;
  metadef_namespaces: MetadefNamespacesTable;
  metadef_resource_types: MetadefResourceTypesTable;
  metadef_namespace_resource_types: MetadefNamespaceResourceTypesTable;
  metadef_objects: MetadefObjectsTable;
  metadef_properties: MetadefPropertiesTable;
  metadef_tags: MetadefTagsTable;
  alembic_version: AlembicVersionTable;
}
