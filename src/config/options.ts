/**
 * Every option type of Glimpse, on the ground floor: the whole configuration
 * (glance-api.conf keys, by Glance's names in the comments) and the options of
 * each store and of Keystone, which the backends and auth import from here.
 * Types only: reading the file is config.ts, checking it validate.ts.
 */
import type { ImageFormatRules } from '../formats/policy.js';
import type { ImportFilter } from '../net/url-filter.js';

export type AuthMode = 'noauth' | 'headers' | 'keystone';

export interface CorsConfig {
  allowedOrigins: string[];
  allowCredentials: boolean;
  exposeHeaders: string[];
  maxAge: number;
  allowMethods: string[];
  allowHeaders: string[];
}

export type StoreConfig = { id: string; description: string | null } & (
  /** `thin`: `filesystem_thin_provisioning`, runs of zeros become holes (sparse files). */
  | { type: 'file'; dir: string; thin: boolean }
  | { type: 'swift'; swift: SwiftStoreOptions }
  | { type: 's3'; s3: S3StoreOptions }
  | { type: 'rbd'; rbd: RbdStoreOptions }
  /** glance_store's read-only http store: serves http(s) locations, within `[import_filtering_opts]`. */
  | { type: 'http' }
);

export interface GlimpseConfig {
  bindHost: string;
  bindPort: number;
  dataDir: string;
  database: string;
  /** `[database] max_pool_size`: connections per process to PostgreSQL or MySQL. */
  databaseMaxPoolSize: number;
  /** `[database] pool_timeout`, in ms: the longest wait for a pooled connection (then 503). */
  databasePoolTimeoutMs: number;
  /** `[database] statement_timeout`, in ms (0: none): the server cancels a statement running longer. */
  databaseStatementTimeoutMs: number;
  /** `[DEFAULT] client_socket_timeout`, in ms (0: none): a connection idle this long is closed. */
  clientSocketTimeoutMs: number;
  /** `[glimpse] body_idle_timeout`, in ms: an upload or JSON body that sends nothing this long is cut. */
  bodyIdleTimeoutMs: number;
  /** `[glimpse] json_body_timeout`, in ms: the longest a JSON request body may take to arrive. */
  jsonBodyTimeoutMs: number;
  /** `[glimpse] max_concurrent_uploads`: uploads and stagings one process receives at once (503 beyond). */
  maxConcurrentUploads: number;
  /** `[glimpse] max_list_filters`: filters one image list may carry (400 beyond). */
  maxListFilters: number;
  /** `[glimpse] recovery_interval_seconds`, in ms: how often interrupted writes are looked for while serving. */
  recoveryIntervalMs: number;
  /** `[glimpse] lifecycle_interval_seconds`, in ms: how often each process applies due deprecation transitions. */
  lifecycleIntervalMs: number;
  /** `[glimpse] write_stale_seconds`, in ms: a write with no sign of its writer for this long is judged dead. */
  writeStaleMs: number;
  auth: AuthMode;
  insecure: boolean;
  /** The project every request belongs to in noauth mode. */
  noauthProjectId: string;
  publicEndpoint: string | null;
  allowAnonymousAccess: boolean;
  maxRequestIdLength: number;
  limitParamDefault: number;
  apiLimitMax: number;
  imagePropertyQuota: number;
  imageTagQuota: number;
  imageMemberQuota: number;
  imageLocationQuota: number;
  imageSizeCap: number;
  userStorageQuota: number;
  showImageDirectUrl: boolean;
  showMultipleLocations: boolean;
  hashingAlgorithm: string;
  enabledImportMethods: string[];
  /** `[import_filtering_opts]`: which URLs web-download may fetch. */
  importFilter: ImportFilter;
  /** `[image_import_opts] image_import_plugins` with `image_conversion`: `[image_conversion] output_format`, else null. */
  conversionOutputFormat: string | null;
  /** `[glimpse] task_heartbeat_seconds`, in ms: how often a running import proves it is alive. */
  taskHeartbeatMs: number;
  /** `[glimpse] file_store_direct_io`: file stores write with O_DIRECT (see src/store/file-write.ts). */
  fileStoreDirectIo: boolean;
  /** `[glimpse] file_store_cache_uploads`: a direct write is read back into the page cache as it goes, for a fast first download. */
  fileStoreCacheUploads: boolean;
  diskFormats: string[];
  containerFormats: string[];
  /** `[image_format]` rules for what uploaded bytes must be (see src/formats/). */
  imageFormat: ImageFormatRules;
  stagingDir: string;
  /**
   * The stores: `enabled_backends` with a section per backend, in that
   * order (multi-store; Glance lists them so), or `[glance_store]
   * default_store` first (single store, where a file store also stays, to
   * read data written before a switch).
   */
  stores: StoreConfig[];
  /** `enabled_backends` is set: store ids show in the API and in location metadata. */
  multiStore: boolean;
  /** The store new data goes to: `[glance_store] default_backend` (multi-store), else the first store. */
  defaultStore: string;
  /**
   * schema-image.json: the operator's, found beside the config file as Glance
   * finds it, else the one Glance's packages install (catalog/schema-image.json).
   */
  customSchemaFile: string;
  cors: CorsConfig | null;
  /** `[DEFAULT] metadata_source_path`: where `manage metadefs load/export` look when no --path is given. */
  metadataSourcePath: string | null;
  /** `property_protection_file` (resolved) and `property_protection_rule_format`. */
  propertyProtection: PropertyProtectionConfig | null;
  /** Rule overrides from the operator's policy file. */
  policyRules: Record<string, string>;
  /** `[oslo_policy] enforce_new_defaults` (true since Glance 2023.1); false gives the legacy rules. */
  enforceNewDefaults: boolean;
  /** `use_keystone_limits` with `[oslo_limit] endpoint_id`, or static `[glimpse_limits]`, or none. */
  limits: LimitsConfig | null;
  /** `[keystone_authtoken]`, when present. */
  keystone: KeystoneOptions | null;
  logLevel: string;
  enableDashboard: boolean;
  /** `[healthcheck]`: `disable_by_file_path` when `backends` has disable_by_file (a file there: 503, the node drains), `detailed`. */
  healthcheck: { disableByFile: string | null; detailed: boolean };
  /** `[DEFAULT] workers` (or `--workers`): API processes sharing the port; 1 serves in this process. */
  workers: number;
  /** `[glimpse] metrics`: who may read `GET /metrics` (loopback clients only, anyone, or no one). */
  metrics: 'loopback' | 'all' | 'off';
  /** `[glimpse_webhooks]`: subscriptions that receive the notifications as signed CloudEvents. */
  webhooks: WebhooksConfig;
  /** `[oslo_messaging_notifications]` and `[DEFAULT] disabled_notifications`, `default_publisher_id`. */
  notifications: NotificationsConfig;
  /** `[DEFAULT] image_cache_dir` and the cache's other keys; null: no cache. */
  imageCache: ImageCacheConfig | null;
  /** `[glimpse_insight]`: guest inspection of new images. */
  insight: InsightConfig;
}

/** `[glimpse_insight]`: reading what is inside each new image (services/insight.ts). */
export interface InsightConfig {
  /** `enabled` (false): inspect images as they become active, and sweep for those not inspected yet. */
  enabled: boolean;
  /** `apply_properties` (false): set the suggested Glance properties the owner has not set. */
  applyProperties: boolean;
  /** `concurrency` (1): inspections at once in each process (each API worker of a node has its own). */
  concurrency: number;
  /** `timeout_seconds` (120): wall clock for one reader run, and the CPU it may use. */
  timeoutSeconds: number;
  /** `memory_mib` (1024): the address space of one reader run. */
  memoryBytes: number;
  /** `max_image_size` (64 GiB): larger images are not inspected. */
  maxImageBytes: number;
  /** `max_partition_size` (64 GiB): larger partitions are not copied out to be read. */
  maxPartitionBytes: number;
  /**
   * `libguestfs_fallback` (false) with `libguestfs_timeout_seconds` (300):
   * when 7zz finds no OS behind a file system it cannot read (XFS, btrfs,
   * LVM), libguestfs may read the guest instead, within that many seconds;
   * null: never.
   */
  libguestfsSeconds: number | null;
  /** `max_entries` (2,000,000): files one file system may list. */
  maxEntries: number;
  /** `sweep_interval_seconds` (300): how often an enabled node looks for active images not inspected yet (0: never). */
  sweepIntervalMs: number;
  /** `scratch_dir` (<data dir>/insight): where partitions are copied out, sparse, while they are read. */
  scratchDir: string;
}

/** `[glimpse_webhooks] subscriptions = a, b` with a `[glimpse_webhook_<name>]` section each. */
export interface WebhooksConfig {
  subscriptions: WebhookSubscription[];
  /** `retry_seconds`: the first retry's delay; each next one doubles, up to an hour. */
  retrySeconds: number;
  /** `max_attempts`: deliveries given up after this many. */
  maxAttempts: number;
}

export interface WebhookSubscription {
  name: string;
  url: string;
  /** `events`: event types, `group.*` prefixes, or `*`. */
  events: string[];
  /** `secret`: the HMAC-SHA256 key of the signature header. */
  secret: string;
}

export interface NotificationsConfig {
  /** `driver`: messagingv2 (oslo's envelope), messaging (no envelope), log, or noop (Glance's default: none). */
  driver: 'messagingv2' | 'messaging' | 'log' | 'noop';
  /** `transport_url` (else `[DEFAULT] transport_url`): `rabbit://user:pass@host:5672/vhost`. */
  transportUrl: string;
  /** `topics`: each event goes to `<topic>.<priority>`. */
  topics: string[];
  /** `[DEFAULT] disabled_notifications`: event types or groups not sent. */
  disabled: string[];
  /** `[DEFAULT] default_publisher_id`. */
  publisherId: string;
}

/** Glance's image cache on this node (the `centralized_db` driver's records, Glance's directory layout). */
export interface ImageCacheConfig {
  /** `image_cache_dir`: `<dir>/<image id>`, `incomplete/`, `invalid/`, `queue/`. */
  dir: string;
  /** `image_cache_max_size`, bytes: the pruner's target. */
  maxSize: number;
  /** `image_cache_stall_time`, in ms: an incomplete file older than this is removed by the cleaner. */
  stallTimeMs: number;
  /** `cache_prefetcher_interval`, in ms: how often queued images are fetched. */
  prefetchIntervalMs: number;
  /** `worker_self_reference_url`: this node's key in `node_reference`. */
  nodeUrl: string;
}

/** `use_keystone_limits` with `[oslo_limit] endpoint_id` (and its own credentials, if any), or static `[glimpse_limits]`. */
export type LimitsConfig = { keystoneEndpointId: string; credentials: KeystoneOptions | null } | { static: Partial<Record<string, number>> };

export type PropertyOperation = 'create' | 'read' | 'update' | 'delete';

/** One section of the property protection file: a name pattern and, per operation, its rule as written. */
export interface PropertyProtectionSection {
  pattern: string;
  rules: Record<PropertyOperation, string>;
}

/** `[DEFAULT] property_protection_file` (resolved and read) and `property_protection_rule_format`. */
export interface PropertyProtectionConfig {
  file: string;
  format: 'roles' | 'policies';
  sections: PropertyProtectionSection[];
}

export interface KeystoneOptions {
  /** `auth_url`: Keystone's URL, with or without `/v3`. */
  authUrl: string;
  /** `www_authenticate_uri`: what 401s point clients to. */
  wwwAuthenticateUri: string;
  username: string;
  password: string;
  /** Project scope of the service's own token; null for a system-scoped token (`system_scope = all`). */
  projectName: string | null;
  userDomainName: string;
  projectDomainName: string;
  /** `token_cache_time`, seconds. */
  tokenCacheTime: number;
  /** `http_connect_timeout`, seconds. */
  timeout: number;
}

export interface SwiftAuthOptions {
  /** The auth endpoint: `…/auth/v1.0` (tempauth, swauth) or a Keystone v3 URL. */
  url: string;
  version: '1' | '3';
  user: string;
  key: string;
  /** Keystone v3: the project (Glance's `user` is `project:user` in single tenant mode). */
  project?: string;
  userDomain?: string;
  projectDomain?: string;
}

/** Multi-tenant mode's settings (glance_store's names in comments). */
export interface SwiftTenancy {
  /** `swift_store_endpoint`: one storage URL for every caller; else the caller's catalog says. */
  endpoint: string | null;
  /** `swift_store_service_type`, `swift_store_endpoint_type`, `swift_store_region`: the catalog entry. */
  serviceType: string;
  interface: 'public' | 'internal' | 'admin';
  region: string | null;
  /** `swift_store_admin_tenants`: projects that may write every image's container. */
  adminProjects: string[];
}

export interface SwiftStoreOptions {
  /** The service's own account (single tenant); unused by a multi-tenant store. */
  auth: SwiftAuthOptions | null;
  /** Set when the credentials come from `swift_store_config_file`: locations then name the reference. */
  reference: string | null;
  container: string;
  createContainer: boolean;
  largeObjectSize: number;
  chunkSize: number;
  /** Set in multi-tenant mode. */
  tenancy: SwiftTenancy | null;
}

export interface S3StoreOptions {
  /** `s3_store_host`: `http(s)://host[:port]`, or a bare host (https). */
  host: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  createBucket: boolean;
  /** `s3_store_bucket_url_format`: auto, path or virtual. */
  urlFormat: 'auto' | 'path' | 'virtual';
  region: string | null;
  chunkSize: number;
}

export interface RbdStoreOptions {
  /** `rbd_store_pool`. */
  pool: string;
  /** `rbd_store_user`: the cephx id (without `client.`); null lets librados decide. */
  user: string | null;
  /** `rbd_store_ceph_conf`; empty: librados' default search. */
  confFile: string;
  /** `rbd_store_chunk_size`, in bytes (a power of two): the size of the image's RADOS objects. */
  chunkSize: number;
  /** `rados_connect_timeout`, in seconds; negative: librados' own. */
  connectTimeout: number;
  /** `rbd_thin_provisioning`: zero chunks are not written. */
  thin: boolean;
}
