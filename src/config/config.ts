/**
 * Glimpse's configuration: glance-api.conf keys (same sections, same names,
 * same defaults) plus the command-line flags, which win over the file.
 * Nothing outside this folder reads the environment or the config file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_IMPORT_FILTER, type ImportFilter } from '../net/url-filter.js';
import { IniReader, parseIni } from './ini.js';
import type {
  AuthMode, CorsConfig, GlimpseConfig, ImageCacheConfig, InsightConfig, NotificationsConfig, WebhooksConfig, KeystoneOptions, RbdStoreOptions, S3StoreOptions, StoreConfig, SwiftAuthOptions, SwiftStoreOptions, SwiftTenancy,
} from './options.js';
import { findPolicyFile, readPolicyFile } from './policy-file.js';
import { readPropertyProtectionFile } from './property-protection-file.js';
import { ConfigError, type ConfigPurpose, validateConfig } from './validate.js';

/** The schema-image.json Glance's packages install: its standard properties, served and validated by default. */
const DEFAULT_IMAGE_SCHEMA = fileURLToPath(new URL('../../../catalog/schema-image.json', import.meta.url));

export interface CliOptions {
  config?: string;
  bind?: string;
  dataDir?: string;
  database?: string;
  auth?: string;
  insecure?: boolean;
  logLevel?: string;
  dashboard?: boolean;
  /** `--workers`: overrides `[DEFAULT] workers`. */
  workers?: string;
}

const GLANCE_CORS_EXPOSE = ['X-Image-Meta-Checksum', 'X-Auth-Token', 'X-Subject-Token', 'X-Service-Token', 'X-OpenStack-Request-ID'];
const GLANCE_CORS_HEADERS = [
  'Content-MD5', 'X-Image-Meta-Checksum', 'X-Storage-Token', 'Accept-Encoding', 'X-Auth-Token', 'X-Identity-Status',
  'X-Roles', 'X-Service-Catalog', 'X-User-Id', 'X-Tenant-Id', 'X-OpenStack-Request-ID',
];

/** Glance's default `[image_format]` lists. */
const GLANCE_DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
const GLANCE_CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];

/** Reads and checks the configuration; a mistake throws a ConfigError naming the key. */
export function loadConfig(cli: CliOptions, purpose: ConfigPurpose = 'serve', cwd = process.cwd()): GlimpseConfig {
  const config = readConfig(cli, cwd);
  validateConfig(config, purpose);
  return config;
}

function readConfig(cli: CliOptions, cwd: string): GlimpseConfig {
  const configPath = cli.config ? path.resolve(cwd, cli.config) : null;
  if (configPath && !existsSync(configPath)) throw new ConfigError(`config file ${configPath} does not exist`);
  const ini = new IniReader(configPath ? parseIni(readFileSync(configPath, 'utf8'), configPath) : new Map());
  const configDir = configPath ? path.dirname(configPath) : null;

  const dataDir = path.resolve(cwd, cli.dataDir ?? ini.str('glimpse', 'data_dir') ?? './data');
  const [bindHost, bindPort] = parseBind(
    cli.bind ?? `${ini.str('DEFAULT', 'bind_host') ?? '127.0.0.1'}:${ini.int('DEFAULT', 'bind_port') ?? 9292}`,
  );
  const auth = parseAuth(cli.auth ?? ini.str('glimpse', 'auth') ?? flavorToAuth(ini.str('paste_deploy', 'flavor')));

  return {
    bindHost,
    bindPort,
    dataDir,
    database: cli.database ?? databaseUrl(ini) ?? `sqlite:///${path.join(dataDir, 'glimpse.sqlite')}`,
    databaseMaxPoolSize: positive(ini.int('database', 'max_pool_size') ?? 10, 'max_pool_size'),
    databasePoolTimeoutMs: positive(ini.int('database', 'pool_timeout') ?? 30, 'pool_timeout') * 1000,
    databaseStatementTimeoutMs: nonNegative(ini.int('database', 'statement_timeout') ?? 60, 'statement_timeout') * 1000,
    clientSocketTimeoutMs: nonNegative(ini.int('DEFAULT', 'client_socket_timeout') ?? 900, 'client_socket_timeout') * 1000,
    bodyIdleTimeoutMs: positive(ini.int('glimpse', 'body_idle_timeout') ?? 60, 'body_idle_timeout') * 1000,
    jsonBodyTimeoutMs: positive(ini.int('glimpse', 'json_body_timeout') ?? 60, 'json_body_timeout') * 1000,
    maxConcurrentUploads: positive(ini.int('glimpse', 'max_concurrent_uploads') ?? 16, 'max_concurrent_uploads'),
    maxListFilters: positive(ini.int('glimpse', 'max_list_filters') ?? 20, 'max_list_filters'),
    recoveryIntervalMs: positive(ini.int('glimpse', 'recovery_interval_seconds') ?? 30, 'recovery_interval_seconds') * 1000,
    lifecycleIntervalMs: positive(ini.int('glimpse', 'lifecycle_interval_seconds') ?? 60, 'lifecycle_interval_seconds') * 1000,
    writeStaleMs: positive(ini.int('glimpse', 'write_stale_seconds') ?? 60, 'write_stale_seconds') * 1000,
    auth,
    insecure: cli.insecure ?? false,
    noauthProjectId: ini.str('glimpse', 'noauth_project_id') ?? 'admin',
    publicEndpoint: ini.str('DEFAULT', 'public_endpoint') ?? null,
    allowAnonymousAccess: ini.bool('DEFAULT', 'allow_anonymous_access') ?? false,
    maxRequestIdLength: ini.int('DEFAULT', 'max_request_id_length') ?? 64,
    limitParamDefault: positive(ini.int('DEFAULT', 'limit_param_default') ?? 25, 'limit_param_default'),
    apiLimitMax: positive(ini.int('DEFAULT', 'api_limit_max') ?? 1000, 'api_limit_max'),
    imagePropertyQuota: ini.int('DEFAULT', 'image_property_quota') ?? 128,
    imageTagQuota: ini.int('DEFAULT', 'image_tag_quota') ?? 128,
    imageMemberQuota: ini.int('DEFAULT', 'image_member_quota') ?? 128,
    imageLocationQuota: ini.int('DEFAULT', 'image_location_quota') ?? 10,
    imageSizeCap: ini.int('DEFAULT', 'image_size_cap') ?? 1099511627776,
    userStorageQuota: parseByteSize(ini.str('DEFAULT', 'user_storage_quota') ?? '0'),
    showImageDirectUrl: ini.bool('DEFAULT', 'show_image_direct_url') ?? false,
    showMultipleLocations: ini.bool('DEFAULT', 'show_multiple_locations') ?? false,
    hashingAlgorithm: ini.str('DEFAULT', 'hashing_algorithm') ?? 'sha512',
    enabledImportMethods: ini.list('DEFAULT', 'enabled_import_methods') ?? ['glance-direct', 'web-download', 'copy-image'],
    importFilter: importFilterConfig(ini),
    conversionOutputFormat: conversionConfig(ini),
    taskHeartbeatMs: positive(ini.int('glimpse', 'task_heartbeat_seconds') ?? 10, 'task_heartbeat_seconds') * 1000,
    fileStoreDirectIo: ini.bool('glimpse', 'file_store_direct_io') ?? true,
    fileStoreCacheUploads: ini.bool('glimpse', 'file_store_cache_uploads') ?? true,
    diskFormats: ini.list('image_format', 'disk_formats') ?? ini.list('DEFAULT', 'disk_formats') ?? GLANCE_DISK_FORMATS,
    containerFormats: ini.list('image_format', 'container_formats') ?? ini.list('DEFAULT', 'container_formats') ?? GLANCE_CONTAINER_FORMATS,
    imageFormat: {
      requireFormatMatch: ini.bool('image_format', 'require_image_format_match') ?? true,
      vmdkAllowedTypes: ini.list('image_format', 'vmdk_allowed_types') ?? ['streamOptimized', 'monolithicSparse'],
      gptNonFatal: ini.list('image_format', 'gpt_safety_checks_nonfatal') ?? [],
    },
    stagingDir: stagingDir(ini.str('DEFAULT', 'node_staging_uri'), dataDir),
    ...storesConfig(ini, configDir ?? cwd, dataDir),
    customSchemaFile: findBesideConfig(configDir, 'schema-image.json') ?? DEFAULT_IMAGE_SCHEMA,
    cors: corsConfig(ini),
    ...policyConfig(ini, configDir, cwd),
    propertyProtection: propertyProtectionConfig(ini, configDir ?? cwd),
    metadataSourcePath: ini.str('DEFAULT', 'metadata_source_path') ?? null,
    keystone: keystoneConfig(ini),
    limits: limitsConfig(ini),
    logLevel: cli.logLevel ?? (ini.bool('DEFAULT', 'debug') ? 'debug' : 'info'),
    enableDashboard: cli.dashboard ?? true,
    imageCache: imageCacheConfig(ini, configDir ?? cwd, bindPort),
    notifications: notificationsConfig(ini),
    // Glance's meaning: processes serving the API, one per CPU by default; 0 or 1 is one process.
    workers: workerCount(cli.workers ?? ini.str('DEFAULT', 'workers')),
    webhooks: webhooksConfig(ini),
    insight: insightConfig(ini, dataDir),
    healthcheck: healthcheckConfig(ini, configDir ?? dataDir),
    metrics: oneOf(ini.str('glimpse', 'metrics') ?? 'loopback', ['loopback', 'all', 'off'] as const, '[glimpse] metrics'),
  };
}

function healthcheckConfig(ini: IniReader, base: string): GlimpseConfig['healthcheck'] {
  // Glance's paste pipeline turns disable_by_file on, with the file beside its config (/etc/glance/healthcheck_disable).
  const byFile = (ini.list('healthcheck', 'backends') ?? ['disable_by_file']).includes('disable_by_file');
  return {
    disableByFile: byFile ? path.resolve(base, ini.str('healthcheck', 'disable_by_file_path') ?? 'healthcheck_disable') : null,
    detailed: ini.bool('healthcheck', 'detailed') ?? false,
  };
}

function insightConfig(ini: IniReader, dataDir: string): InsightConfig {
  const section = 'glimpse_insight';
  return {
    enabled: ini.bool(section, 'enabled') ?? false,
    applyProperties: ini.bool(section, 'apply_properties') ?? false,
    concurrency: positive(ini.int(section, 'concurrency') ?? 1, 'concurrency'),
    timeoutSeconds: positive(ini.int(section, 'timeout_seconds') ?? 120, 'timeout_seconds'),
    memoryBytes: positive(ini.int(section, 'memory_mib') ?? 1024, 'memory_mib') * 1024 * 1024,
    maxImageBytes: parseByteSize(ini.str(section, 'max_image_size') ?? '64GB', '[glimpse_insight] max_image_size'),
    maxPartitionBytes: parseByteSize(ini.str(section, 'max_partition_size') ?? '64GB', '[glimpse_insight] max_partition_size'),
    libguestfsSeconds: ini.bool(section, 'libguestfs_fallback') ? positive(ini.int(section, 'libguestfs_timeout_seconds') ?? 300, 'libguestfs_timeout_seconds') : null,
    maxEntries: positive(ini.int(section, 'max_entries') ?? 2_000_000, 'max_entries'),
    sweepIntervalMs: nonNegative(ini.int(section, 'sweep_interval_seconds') ?? 300, 'sweep_interval_seconds') * 1000,
    scratchDir: path.resolve(ini.str(section, 'scratch_dir') ?? path.join(dataDir, 'insight')),
  };
}

function webhooksConfig(ini: IniReader): WebhooksConfig {
  const subscriptions = (ini.list('glimpse_webhooks', 'subscriptions') ?? []).map((name) => {
    const section = `glimpse_webhook_${name}`;
    const url = ini.str(section, 'url');
    const secret = ini.str(section, 'secret');
    if (!url || !/^https?:\/\//.test(url)) throw new ConfigError(`[${section}] url must be an http(s) URL`);
    if (!secret) throw new ConfigError(`[${section}] secret is required: deliveries are signed with it`);
    return { name, url, secret, events: ini.list(section, 'events') ?? ['*'] };
  });
  const retrySeconds = Number(ini.str('glimpse_webhooks', 'retry_seconds') ?? 2);
  if (!(retrySeconds > 0)) throw new ConfigError('[glimpse_webhooks] retry_seconds must be a positive number');
  return { subscriptions, retrySeconds, maxAttempts: positive(ini.int('glimpse_webhooks', 'max_attempts') ?? 12, 'max_attempts') };
}

function notificationsConfig(ini: IniReader): NotificationsConfig {
  const section = 'oslo_messaging_notifications';
  const drivers = ini.list(section, 'driver') ?? [];
  const known = ['messagingv2', 'messaging', 'log', 'noop'];
  const unknown = drivers.filter((d) => !known.includes(d));
  if (unknown.length) throw new ConfigError(`[${section}] driver: ${unknown.join(', ')} not supported (${known.join(', ')})`);
  const driver = (['messagingv2', 'messaging', 'log'] as const).find((d) => drivers.includes(d)) ?? 'noop';
  const transportUrl = ini.str(section, 'transport_url') ?? ini.str('DEFAULT', 'transport_url') ?? 'rabbit://guest:guest@localhost:5672/';
  if ((driver === 'messagingv2' || driver === 'messaging') && !/^(rabbit|amqp)s?:\/\//.test(transportUrl)) {
    throw new ConfigError(`[${section}] transport_url must be a rabbit:// (or amqp://) URL for the ${driver} driver`);
  }
  return {
    driver,
    // oslo's rabbit:// is AMQP 0-9-1; several hosts (rabbit://a,b/) are not supported: the first is used.
    transportUrl: transportUrl.replace(/^rabbit/, 'amqp').replace(/@([^/,]+),[^/]*/, '@$1'),
    topics: ini.list(section, 'topics') ?? ['notifications'],
    disabled: ini.list('DEFAULT', 'disabled_notifications') ?? [],
    publisherId: ini.str('DEFAULT', 'default_publisher_id') ?? 'image.localhost',
  };
}

function imageCacheConfig(ini: IniReader, configDir: string, bindPort: number): ImageCacheConfig | null {
  const dir = ini.str('DEFAULT', 'image_cache_dir');
  if (!dir) return null;
  return {
    dir: path.resolve(configDir, dir),
    maxSize: positive(ini.int('DEFAULT', 'image_cache_max_size') ?? 10 * 1024 ** 3, 'image_cache_max_size'),
    stallTimeMs: positive(ini.int('DEFAULT', 'image_cache_stall_time') ?? 86_400, 'image_cache_stall_time') * 1000,
    prefetchIntervalMs: positive(ini.int('DEFAULT', 'cache_prefetcher_interval') ?? 300, 'cache_prefetcher_interval') * 1000,
    // Glance requires it with centralized_db; one node per host:port is the natural default.
    nodeUrl: ini.str('DEFAULT', 'worker_self_reference_url') ?? `http://${hostname()}:${bindPort}`,
  };
}

const STORE_TYPES = ['file', 'swift', 's3', 'rbd', 'http'];

function storesConfig(ini: IniReader, configDir: string, dataDir: string): Pick<GlimpseConfig, 'stores' | 'multiStore' | 'defaultStore'> {
  const backends = ini.dict('DEFAULT', 'enabled_backends');
  if (!backends) {
    const type = ini.str('glance_store', 'default_store') ?? 'file';
    if (type === 'http') throw new ConfigError('[glance_store] default_store cannot be http: the http store is read-only');
    const file: StoreConfig = { id: 'file', type: 'file', description: null, ...fileConfig(ini, 'glance_store', configDir, path.join(dataDir, 'images')) };
    // `stores = file, http, …`: the http store serves http(s) locations beside the default store.
    const http: StoreConfig[] = ini.list('glance_store', 'stores')?.includes('http') ? [{ id: 'http', type: 'http', description: null }] : [];
    if (type === 'file') return { stores: [file, ...http], multiStore: false, defaultStore: 'file' };
    return { stores: [storeConfig(ini, 'glance_store', type, type, configDir, dataDir), file, ...http], multiStore: false, defaultStore: type };
  }
  const fallback = ini.str('glance_store', 'default_backend');
  if (!fallback || !(fallback in backends)) throw new ConfigError('enabled_backends needs [glance_store] default_backend naming one of them');
  if (backends[fallback] === 'http') throw new ConfigError(`[glance_store] default_backend cannot be ${fallback}: http stores are read-only`);
  const stores = Object.entries(backends).map(([id, type]) => {
    if (id.startsWith('os_glance_')) throw new ConfigError(`enabled_backends: store ids starting with os_glance_ are reserved (${id})`);
    return storeConfig(ini, id, id, type, configDir, dataDir);
  });
  return { stores, multiStore: true, defaultStore: fallback };
}

function storeConfig(ini: IniReader, section: string, id: string, type: string, configDir: string, dataDir: string): StoreConfig {
  const description = ini.str(section, 'store_description') ?? null;
  if (type === 'file') return { id, description, type, ...fileConfig(ini, section, configDir, path.join(dataDir, 'images', id)) };
  if (type === 'swift') return { id, description, type, swift: swiftConfig(ini, section, configDir) };
  if (type === 's3') return { id, description, type, s3: s3Config(ini, section) };
  if (type === 'rbd') return { id, description, type, rbd: rbdConfig(ini, section) };
  if (type === 'http') return { id, description, type };
  throw new ConfigError(`store type ${type} (for ${id}) is not supported: ${STORE_TYPES.join(', ')}`);
}

function fileConfig(ini: IniReader, section: string, configDir: string, fallback: string): { dir: string; thin: boolean } {
  return {
    dir: path.resolve(configDir, ini.str(section, 'filesystem_store_datadir') ?? fallback),
    thin: ini.bool(section, 'filesystem_thin_provisioning') ?? false,
  };
}

function rbdConfig(ini: IniReader, g: string): RbdStoreOptions {
  const chunkMb = ini.int(g, 'rbd_store_chunk_size') ?? 8;
  if (chunkMb < 1 || !Number.isInteger(Math.log2(chunkMb))) throw new ConfigError(`[${g}] rbd_store_chunk_size must be a power of two, in MiB (got ${chunkMb})`);
  return {
    pool: ini.str(g, 'rbd_store_pool') ?? 'images',
    user: ini.str(g, 'rbd_store_user') || null,
    confFile: ini.str(g, 'rbd_store_ceph_conf') ?? '',
    chunkSize: chunkMb * 1024 * 1024,
    connectTimeout: ini.int(g, 'rados_connect_timeout') ?? -1,
    thin: ini.bool(g, 'rbd_thin_provisioning') ?? false,
  };
}

function s3Config(ini: IniReader, g: string): S3StoreOptions {
  const need = (key: string) => {
    const v = ini.str(g, key);
    if (!v) throw new ConfigError(`the S3 store needs [${g}] ${key}`);
    return v;
  };
  const format = ini.str(g, 's3_store_bucket_url_format') ?? 'auto';
  if (format !== 'auto' && format !== 'path' && format !== 'virtual') throw new ConfigError(`[${g}] s3_store_bucket_url_format must be auto, path or virtual`);
  const chunkMb = ini.int(g, 's3_store_large_object_chunk_size') ?? 10;
  if (chunkMb < 5) throw new ConfigError(`[${g}] s3_store_large_object_chunk_size must be at least 5 (S3's smallest part)`);
  return {
    host: need('s3_store_host'),
    accessKey: need('s3_store_access_key'),
    secretKey: need('s3_store_secret_key'),
    bucket: need('s3_store_bucket'),
    createBucket: ini.bool(g, 's3_store_create_bucket_on_put') ?? false,
    urlFormat: format,
    region: ini.str(g, 's3_store_region_name') ?? null,
    chunkSize: chunkMb * 1024 * 1024,
  };
}

/** glance_store counts Swift's sizes in units of 1,024,000 bytes. */
const SWIFT_MB = 1024 * 1000;

function swiftConfig(ini: IniReader, g: string, configDir: string): SwiftStoreOptions {
  const file = ini.str(g, 'swift_store_config_file');
  const tenancy = (ini.bool(g, 'swift_store_multi_tenant') ?? false) ? swiftTenancy(ini, g) : null;
  let auth: SwiftAuthOptions | null;
  let reference: string | null = null;
  if (file) {
    reference = ini.str(g, 'default_swift_reference') ?? 'ref1';
    const refs = new IniReader(parseIni(readFileSync(path.resolve(configDir, file), 'utf8')));
    auth = swiftAuth(refs, reference, 'auth_address', 'user', 'key', 'auth_version');
  } else if (tenancy && !ini.str(g, 'swift_store_auth_address')) {
    // Multi-tenant stores act with each caller's token; the service needs no account of its own.
    auth = null;
  } else {
    auth = swiftAuth(ini, g, 'swift_store_auth_address', 'swift_store_user', 'swift_store_key', 'swift_store_auth_version');
  }
  return {
    auth,
    reference,
    container: ini.str(g, 'swift_store_container') ?? 'glance',
    createContainer: ini.bool(g, 'swift_store_create_container_on_put') ?? false,
    largeObjectSize: positive(ini.int(g, 'swift_store_large_object_size') ?? 5120, 'swift_store_large_object_size') * SWIFT_MB,
    chunkSize: positive(ini.int(g, 'swift_store_large_object_chunk_size') ?? 200, 'swift_store_large_object_chunk_size') * SWIFT_MB,
    tenancy,
  };
}

const ENDPOINT_TYPES: Record<string, SwiftTenancy['interface']> = { publicURL: 'public', internalURL: 'internal', adminURL: 'admin' };

function swiftTenancy(ini: IniReader, g: string): SwiftTenancy {
  const type = ini.str(g, 'swift_store_endpoint_type') ?? 'publicURL';
  const iface = ENDPOINT_TYPES[type];
  if (!iface) throw new ConfigError(`[${g}] swift_store_endpoint_type = ${type}: one of ${Object.keys(ENDPOINT_TYPES).join(', ')}`);
  return {
    endpoint: ini.str(g, 'swift_store_endpoint') ?? null,
    serviceType: ini.str(g, 'swift_store_service_type') ?? 'object-store',
    interface: iface,
    region: ini.str(g, 'swift_store_region') ?? null,
    adminProjects: ini.list(g, 'swift_store_admin_tenants') ?? [],
  };
}

function swiftAuth(ini: IniReader, section: string, address: string, user: string, key: string, version: string): SwiftAuthOptions {
  const url = ini.str(section, address);
  const name = ini.str(section, user);
  const secret = ini.str(section, key);
  if (!url || !name || !secret) throw new ConfigError(`the Swift store needs [${section}] ${address}, ${user} and ${key}`);
  const v = ini.str(section, version) ?? (url.includes('/v3') ? '3' : '1');
  if (v !== '1' && v !== '3') throw new ConfigError(`[${section}] ${version} = ${v}: Swift auth versions 1 and 3 are supported`);
  return {
    url,
    version: v,
    user: name,
    key: secret,
    project: ini.str(section, 'project_name') ?? undefined,
    userDomain: ini.str(section, 'user_domain_id') ?? undefined,
    projectDomain: ini.str(section, 'project_domain_id') ?? undefined,
  };
}

function conversionConfig(ini: IniReader): string | null {
  const plugins = ini.list('image_import_opts', 'image_import_plugins') ?? [];
  const unknown = plugins.filter((p) => p !== 'image_conversion');
  if (unknown.length) throw new ConfigError(`[image_import_opts] image_import_plugins: ${unknown.join(', ')} not supported (image_conversion is)`);
  if (!plugins.includes('image_conversion')) return null;
  const format = ini.str('image_conversion', 'output_format') ?? 'raw';
  if (!['raw', 'qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi'].includes(format)) throw new ConfigError(`[image_conversion] output_format ${format} is not a format qemu-img writes`);
  return format;
}

function importFilterConfig(ini: IniReader): ImportFilter {
  const section = 'import_filtering_opts';
  const ports = (key: string, fallback: number[]) =>
    (ini.list(section, key) ?? fallback.map(String)).map((p) => {
      if (!/^\d+$/.test(p)) throw new ConfigError(`[${section}] ${key}: "${p}" is not a port`);
      return Number(p);
    });
  return {
    allowedSchemes: ini.list(section, 'allowed_schemes') ?? DEFAULT_IMPORT_FILTER.allowedSchemes,
    disallowedSchemes: ini.list(section, 'disallowed_schemes') ?? [],
    allowedHosts: ini.list(section, 'allowed_hosts') ?? [],
    disallowedHosts: ini.list(section, 'disallowed_hosts') ?? [],
    allowedPorts: ports('allowed_ports', DEFAULT_IMPORT_FILTER.allowedPorts),
    disallowedPorts: ports('disallowed_ports', []),
  };
}

function parseBind(bind: string): [string, number] {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(bind);
  if (!m) throw new ConfigError(`--bind must be HOST:PORT, got "${bind}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`--bind port ${port} is out of range`);
  return [m[1].replace(/^\[|\]$/g, ''), port];
}

function parseAuth(mode: string): AuthMode {
  if (mode === 'noauth' || mode === 'headers' || mode === 'keystone') return mode;
  throw new ConfigError(`auth mode must be noauth, headers or keystone, got "${mode}"`);
}

/** Glance's paste flavors: `keystone…` validates tokens, none is the unauthenticated pipeline. */
function flavorToAuth(flavor: string | undefined): string {
  if (!flavor) return 'noauth';
  return flavor.startsWith('keystone') ? 'keystone' : 'noauth';
}

function databaseUrl(ini: IniReader): string | undefined {
  return ini.str('database', 'connection') ?? ini.str('DEFAULT', 'sql_connection') ?? ini.str('sql', 'connection');
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got ${value})`);
  return value as T;
}

function workerCount(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`workers must be a whole number, 0 or more (got ${value})`);
  return Math.max(1, n);
}

function nonNegative(n: number, name: string): number {
  if (n < 0) throw new ConfigError(`${name} must not be negative`);
  return n;
}

function positive(n: number, name: string): number {
  if (n < 1) throw new ConfigError(`${name} must be at least 1`);
  return n;
}

/** `user_storage_quota` and other sizes: `<n>[B|KB|MB|GB|TB]`, binary multiples. */
export function parseByteSize(value: string, key = 'user_storage_quota'): number {
  const m = /^\s*(\d+)\s*(B|KB|MB|GB|TB)?\s*$/i.exec(value);
  if (!m) throw new ConfigError(`${key}: "${value}" is not a size such as 10GB`);
  const units: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  return Number(m[1]) * units[(m[2] ?? 'B').toUpperCase()];
}

function stagingDir(uri: string | undefined, dataDir: string): string {
  if (!uri) return path.join(dataDir, 'staging');
  if (!uri.startsWith('file://')) throw new ConfigError(`node_staging_uri must be a file:// URI, got "${uri}"`);
  return uri.slice('file://'.length);
}

function findBesideConfig(configDir: string | null, name: string): string | null {
  if (!configDir) return null;
  const candidate = path.join(configDir, name);
  return existsSync(candidate) ? candidate : null;
}

function propertyProtectionConfig(ini: IniReader, base: string): GlimpseConfig['propertyProtection'] {
  const file = ini.str('DEFAULT', 'property_protection_file');
  if (!file) return null;
  const format = ini.str('DEFAULT', 'property_protection_rule_format') ?? 'roles';
  if (format !== 'roles' && format !== 'policies') throw new ConfigError(`property_protection_rule_format must be roles or policies, got "${format}"`);
  const resolved = path.resolve(base, file);
  if (!existsSync(resolved)) throw new ConfigError(`property_protection_file ${resolved} does not exist`);
  return { file: resolved, format, sections: readPropertyProtectionFile(resolved) };
}

function policyConfig(ini: IniReader, configDir: string | null, cwd: string) {
  const file = findPolicyFile(ini.str('oslo_policy', 'policy_file'), configDir, (p) => path.resolve(configDir ?? cwd, p));
  const newDefaults = ini.bool('oslo_policy', 'enforce_new_defaults');
  const secureRbac = ini.bool('DEFAULT', 'enforce_secure_rbac');
  if (newDefaults !== undefined && secureRbac !== undefined && newDefaults !== secureRbac) {
    throw new ConfigError('[DEFAULT] enforce_secure_rbac must equal [oslo_policy] enforce_new_defaults');
  }
  return { policyRules: file ? readPolicyFile(file) : {}, enforceNewDefaults: newDefaults ?? secureRbac ?? true };
}

function limitsConfig(ini: IniReader): GlimpseConfig['limits'] {
  if (ini.bool('DEFAULT', 'use_keystone_limits')) {
    const endpointId = ini.str('oslo_limit', 'endpoint_id');
    if (!endpointId) throw new ConfigError('use_keystone_limits needs [oslo_limit] endpoint_id (the image endpoint in Keystone)');
    return { keystoneEndpointId: endpointId, credentials: osloLimitCredentials(ini) };
  }
  const limits: Record<string, number> = {};
  for (const name of ['image_size_total', 'image_stage_total', 'image_count_total', 'image_count_uploading']) {
    const v = ini.int('glimpse_limits', name);
    if (v !== undefined) limits[name] = v;
  }
  return Object.keys(limits).length ? { static: limits } : null;
}

/** `[oslo_limit]`'s own credentials (usually system-scoped, to read every project's limits), if given. */
function osloLimitCredentials(ini: IniReader): KeystoneOptions | null {
  const s = 'oslo_limit';
  const username = ini.str(s, 'username');
  if (!username) return null;
  const authUrl = ini.str(s, 'auth_url') ?? ini.str('keystone_authtoken', 'auth_url');
  const password = ini.str(s, 'password');
  if (!authUrl || !password) throw new ConfigError('[oslo_limit] username needs auth_url and password');
  const system = ini.str(s, 'system_scope');
  return {
    authUrl,
    wwwAuthenticateUri: authUrl,
    username,
    password,
    projectName: system ? null : (ini.str(s, 'project_name') ?? null),
    userDomainName: ini.str(s, 'user_domain_name') ?? 'Default',
    projectDomainName: ini.str(s, 'project_domain_name') ?? 'Default',
    tokenCacheTime: 300,
    timeout: ini.int(s, 'timeout') ?? 10,
  };
}

function keystoneConfig(ini: IniReader): KeystoneOptions | null {
  const s = 'keystone_authtoken';
  const authUrl = ini.str(s, 'auth_url');
  if (!authUrl) return null;
  const required = (key: string) => {
    const v = ini.str(s, key);
    if (!v) throw new ConfigError(`[keystone_authtoken] ${key} is required with auth_url`);
    return v;
  };
  return {
    authUrl,
    wwwAuthenticateUri: ini.str(s, 'www_authenticate_uri') ?? ini.str(s, 'auth_uri') ?? authUrl,
    username: required('username'),
    password: required('password'),
    projectName: required('project_name'),
    userDomainName: ini.str(s, 'user_domain_name') ?? 'Default',
    projectDomainName: ini.str(s, 'project_domain_name') ?? 'Default',
    tokenCacheTime: ini.int(s, 'token_cache_time') ?? 300,
    timeout: ini.int(s, 'http_connect_timeout') ?? 10,
  };
}

function corsConfig(ini: IniReader): CorsConfig | null {
  const origins = ini.list('cors', 'allowed_origin');
  if (!origins || origins.length === 0) return null;
  return {
    allowedOrigins: origins,
    allowCredentials: ini.bool('cors', 'allow_credentials') ?? true,
    exposeHeaders: ini.list('cors', 'expose_headers') ?? GLANCE_CORS_EXPOSE,
    maxAge: ini.int('cors', 'max_age') ?? 3600,
    allowMethods: ini.list('cors', 'allow_methods') ?? ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
    allowHeaders: ini.list('cors', 'allow_headers') ?? GLANCE_CORS_HEADERS,
  };
}
