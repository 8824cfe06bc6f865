/**
 * The composition root: `compose` builds every part from the configuration
 * with plain function calls, in the order a request meets them, and gives
 * back an application that does not listen (tests drive it with inject());
 * `listen` puts it on its socket.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { type AppDeps, buildApp } from './api/app.js';
import { identityResolver } from './auth/identity.js';
import { KeystoneValidator } from './auth/keystone.js';
import { Policy } from './auth/policy.js';
import { PropertyProtections } from './auth/property-protections.js';
import type { GlimpseConfig, StoreConfig } from './config/options.js';
import { type Db, openDatabase } from './db/connection.js';
import { ImagesRepository } from './db/images-repo.js';
import { MembersRepository } from './db/members-repo.js';
import { MetadefsRepository } from './db/metadefs-repo.js';
import { TasksRepository } from './db/tasks-repo.js';
import { UsageRepository } from './db/usage-repo.js';
import { EXTRA_INDEX_HINT, missingExtraIndexes } from './db/extra-indexes.js';
import { assertUsableSchema, schemaState, syncDatabase } from './db/migrate.js';
import { type JsonSchema, imageSchema } from './domain/schemas.js';
import { ImageDataService } from './services/image-data.js';
import { seedCatalog } from './services/metadef-files.js';
import { DataSharing, callerOf } from './services/data-sharing.js';
import { ImageAccess } from './services/image-access.js';
import { ImportFlows } from './services/import/flows.js';
import { ImportService } from './services/import/service.js';
import { ImportWorker } from './services/import/worker.js';
import { type DataHooks, ImagesService } from './services/images.js';
import { KeystoneLimits } from './services/keystone-limits.js';
import { type LimitSource, Quotas, StaticLimits } from './services/quotas.js';
import { MembersService } from './services/members.js';
import { LifecycleService } from './services/lifecycle.js';
import { LifecycleRepository } from './db/lifecycle-repo.js';
import { RetentionRepository } from './db/retention-repo.js';
import { RetentionService } from './services/retention.js';
import { LocationsService } from './services/locations.js';
import { type Notifier, createNotifier } from './notify/notifier.js';
import { InsightService, type InsightServiceDeps } from './services/insight.js';
import { InsightRepository } from './db/insight-repo.js';
import { Metrics } from './metrics/metrics.js';
import { WebhookDispatcher } from './notify/webhooks.js';
import { WebhookOutbox } from './db/webhook-outbox.js';
import { ImageCacheService } from './services/image-cache.js';
import { ImageCache } from './cache/image-cache.js';
import { CacheRepository } from './db/cache-repo.js';
import { MetadefsService } from './services/metadefs.js';
import { TasksService } from './services/tasks.js';
import { FileStore } from './store/file-store.js';
import type { RbdStore } from './store/rbd-store.js';
import { reportLeftoversTo } from './store/leftovers.js';
import { type StoreSet, createStores } from './store/stores.js';

/** Where `npm run build` puts the dashboard (Vite's output, beside the compiled server). */
const DASHBOARD_ROOT = fileURLToPath(new URL('../web', import.meta.url));

/** Glimpse composed: the HTTP application, not yet listening, and what it runs on. */
export interface Glimpse {
  app: FastifyInstance;
  db: Db;
  /** Stops background work (recovery sweeps, imports) and closes the database; the app must be closed first. */
  stop(): Promise<void>;
}

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  url: string;
  close(): Promise<void>;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'glimpse' },
    redact: {
      paths: ['req.headers["x-auth-token"]', 'req.headers["x-subject-token"]', 'req.headers["x-service-token"]', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}

function limitSource(config: GlimpseConfig, keystone: KeystoneValidator | null): LimitSource | null {
  if (!config.limits) return null;
  if ('keystoneEndpointId' in config.limits) {
    const client = config.limits.credentials ? new KeystoneValidator(config.limits.credentials) : keystone!;
    return new KeystoneLimits(client, config.limits.keystoneEndpointId);
  }
  return new StaticLimits(config.limits.static);
}

/** What `GET /v2/info/stores/detail` shows of a store, by Glance's names. */
function storeProperties(s: StoreConfig, stores: StoreSet): Record<string, unknown> {
  switch (s.type) {
    case 'file':
      return { data_dir: s.dir, chunk_size: 65536, thin_provisioning: s.thin };
    case 'swift':
      return { container: s.swift.container, large_object_size: s.swift.largeObjectSize, large_object_chunk_size: s.swift.chunkSize };
    case 's3':
      return { s3_store_large_object_size: s.s3.chunkSize, s3_store_large_object_chunk_size: s.s3.chunkSize, s3_store_thread_pools: 1 };
    case 'http':
      return {};
    case 'rbd': {
      const store = stores.byId(s.id) as RbdStore;
      // The fsid is the cluster's: known once the store has connected (a getter, read when the detail is served).
      return { chunk_size: s.rbd.chunkSize, pool: s.rbd.pool, thin_provisioning: s.rbd.thin, get fsid() { return store.clusterFsid; } };
    }
  }
}

/** Opens the database; an empty embedded SQLite database gets Glance's schema on first start. */
export async function openAndCheckDatabase(config: GlimpseConfig, logger: Logger): Promise<Db> {
  const db = openDatabase(config.database, {
    maxPoolSize: config.databaseMaxPoolSize,
    poolTimeoutMs: config.databasePoolTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
  });
  try {
    if (db.dialect === 'sqlite' && (await schemaState(db)).kind === 'empty') {
      const { revision } = await syncDatabase(db);
      const catalog = await seedCatalog(db);
      logger.info({ database: db.description, revision, metadef_namespaces: catalog.loaded.length }, 'created the embedded database');
    }
    await assertUsableSchema(db);
    const missing = await missingExtraIndexes(db);
    if (missing.length) logger.warn({ missing: missing.map((i) => i.name) }, EXTRA_INDEX_HINT);
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * `leader`: this process runs the node's once-per-node background work (the
 * image cache's prefetcher and sweep). With several workers only one is
 * the leader; the other periodic jobs are safe in every process (they
 * claim their work in the database).
 */
export async function compose(config: GlimpseConfig, logger = createLogger(config.logLevel), role = { leader: true }): Promise<Glimpse> {
  const schema = imageSchema({
    diskFormats: config.diskFormats,
    containerFormats: config.containerFormats,
    custom: JSON.parse(readFileSync(config.customSchemaFile, 'utf8')),
  });
  const policy = new Policy(config.policyRules, !config.enforceNewDefaults);
  const protections = config.propertyProtection ? new PropertyProtections(config.propertyProtection, policy) : null;
  const keystone = config.keystone && (config.auth === 'keystone' || (config.limits && 'keystoneEndpointId' in config.limits))
    ? new KeystoneValidator(config.keystone)
    : null;

  reportLeftoversTo((what, err) => logger.warn({ err }, `left behind: ${what}`));
  const db = await openAndCheckDatabase(config, logger);
  const repo = new ImagesRepository(db);
  const stores = createStores(config.stores, config.multiStore, {
    storageUrlOf: keystone ? (token, tenancy) => keystone.objectStoreUrl(token, tenancy) : null,
    heartbeatMs: config.taskHeartbeatMs,
    directIo: config.fileStoreDirectIo,
    cacheUploads: config.fileStoreCacheUploads,
    importFilter: config.importFilter,
  }, config.defaultStore);
  const staging = new FileStore('os_glance_staging_store', config.stagingDir, { directIo: config.fileStoreDirectIo });
  const membersRepo = new MembersRepository(db);
  const tasksRepo = new TasksRepository(db);
  const sharing = new DataSharing({ stores, members: membersRepo });
  const quotas = new Quotas({ source: limitSource(config, keystone), usage: new UsageRepository(db), db, userStorageQuota: config.userStorageQuota });
  const access = new ImageAccess({ repo, policy, protections });
  const webhooks = await webhookDispatcher(config, db, logger);
  const notify = createNotifier(config.notifications, logger, webhooks ? [(message) => webhooks.dispatcher.accept(message)] : []);
  const metrics = new Metrics();
  const cacheRecords = new CacheRepository(db);
  const cache = config.imageCache ? new ImageCache(config.imageCache, cacheRecords) : null;
  await cache?.start();
  const imageData = new ImageDataService({ access, repo, stores, staging, limits: config, quotas, sharing, cache, notify, metrics, log: logger });
  const cacheService = new ImageCacheService({ cache, records: cacheRecords, repo, access, policy, data: imageData, log: logger });
  const locations = new LocationsService({ repo, access, stores, limits: config, log: logger });
  const images = new ImagesService({ repo, access, limits: config, schema, data: dataHooks(imageData, sharing, cache), locations, protections, quotas, notify });
  const members = new MembersService({ access, members: membersRepo, memberQuota: config.imageMemberQuota, sharing, notify });
  const { lifecycle, retention, timer: lifecycleTimer } = startLifecycle({ access, images, repo, db, notify, logger, metrics }, config.lifecycleIntervalMs);
  const worker = new ImportWorker({
    tasks: tasksRepo,
    flows: new ImportFlows({ repo, tasks: tasksRepo, data: imageData, stores, config, log: logger }),
    heartbeatMs: config.taskHeartbeatMs,
    log: logger,
    notify,
    metrics,
  });
  const imports = new ImportService({ access, createImage: (ctx, body) => images.create(ctx, body), repo, tasks: tasksRepo, stores, worker, config, notify });
  const insightDeps = { access, images, repo, tasks: tasksRepo, uninspected: new InsightRepository(db), stores, config: config.insight, notify, log: logger };
  const insight = startInsight({ ...insightDeps, results: metrics.insightResults, seconds: metrics.insightSeconds }, imageData);
  registerGauges(metrics, { imageData, worker, db, notify, webhooks, insight: insight.service });
  const recovery = await startRecovery(imageData, worker, config.recoveryIntervalMs, logger);
  if (role.leader) cacheService.start();
  webhooks?.dispatcher.start();

  const app = buildApp(appDeps(config, logger, { db, policy, keystone, schema, images, access, imageData, members, imports, quotas, tasks: tasksRepo, stores, locations, cache: cacheService, lifecycle, retention, insight: insight.service, notify, metrics, webhooks }));
  return {
    app,
    db,
    stop: async () => {
      clearInterval(recovery);
      clearInterval(lifecycleTimer);
      clearInterval(insight.timer);
      await insight.service.close();
      await cacheService.close();
      await worker.close();
      await webhooks?.dispatcher.close();
      await db.close();
      for (const store of stores.all) await store.close?.();
      await notify.close();
    },
  };
}

/** What compose() built, as the HTTP application needs it. */
interface AppParts {
  db: Db;
  policy: Policy;
  keystone: KeystoneValidator | null;
  schema: JsonSchema;
  images: ImagesService;
  access: ImageAccess;
  imageData: ImageDataService;
  members: MembersService;
  imports: ImportService;
  quotas: Quotas;
  tasks: TasksRepository;
  stores: StoreSet;
  locations: LocationsService;
  cache: ImageCacheService;
  lifecycle: LifecycleService;
  retention: RetentionService;
  insight: InsightService;
  notify: Notifier;
  metrics: Metrics;
  webhooks: { outbox: WebhookOutbox } | null;
}

function appDeps(config: GlimpseConfig, logger: Logger, { db, policy, keystone, schema, images, access, imageData, members, imports, quotas, tasks, stores, locations, cache, lifecycle, retention, insight, notify, metrics, webhooks }: AppParts): AppDeps {
  /** The node's state: the database, the stores, work in flight, the notification backlog. */
  const health = async () => ({
    database: (await db.ping(2000)) ? 'ok' : 'no connection within 2 s',
    disabled_by_file: config.healthcheck.disableByFile !== null && existsSync(config.healthcheck.disableByFile),
    stores: config.stores.map((s) => ({ id: s.id, type: s.type })),
    uploads_in_flight: imageData.uploadsInFlight,
    notifications: notify.stats(),
  });
  return {
    logger,
    identity: identityResolver({
      noauthProjectId: config.noauthProjectId,
      allowAnonymousAccess: config.allowAnonymousAccess,
      policy,
      // validateConfig makes sure keystone mode has its [keystone_authtoken] section.
      ...(config.auth === 'keystone' ? { mode: 'keystone', keystone: keystone! } : { mode: config.auth }),
    }),
    wwwAuthenticate: keystone?.wwwAuthenticate ?? null,
    images,
    access,
    lifecycle,
    retention,
    insight,
    imageData,
    members,
    imports,
    locations,
    cache,
    tasks: new TasksService({ tasks, access, policy, limits: config }),
    metadefs: new MetadefsService({ repo: new MetadefsRepository(db), policy, notify }),
    limits: config,
    imageSchema: schema,
    wire: {
      showMultipleLocations: config.showMultipleLocations,
      showImageDirectUrl: config.showImageDirectUrl,
      multiStore: config.multiStore,
    },
    info: {
      enabledImportMethods: config.enabledImportMethods,
      stores: config.multiStore ? config.stores.map((s) => ({ id: s.id, description: s.description ?? undefined, default: s.id === config.defaultStore, type: s.type, properties: storeProperties(s, stores) })) : null,
      usage: (ctx) => quotas.usage(ctx.projectId),
      authorizeDetail: (ctx) => policy.enforce(ctx, 'stores_info_detail', {}),
    },
    cors: config.cors,
    dashboard: config.enableDashboard
      ? {
          root: DASHBOARD_ROOT,
          auth: config.auth,
          signIn: config.auth === 'keystone' && keystone ? (credentials) => keystone.signIn(credentials) : null,
          revoke: config.auth === 'keystone' && keystone ? (token) => keystone.revoke(token) : null,
          cache: config.imageCache ? { maxSize: config.imageCache.maxSize } : null,
        }
      : null,
    publicEndpoint: config.publicEndpoint,
    metrics: { registry: metrics, access: config.metrics },
    webhookDeliveries: async (ctx) => {
      policy.enforce(ctx, 'manage_webhooks', { project_id: ctx.projectId });
      return webhooks ? webhooks.outbox.recent(200) : [];
    },
    maxRequestIdLength: config.maxRequestIdLength,
    storeIds: config.multiStore ? config.stores.map((s) => s.id) : null,
    health: async () => {
      if (config.healthcheck.disableByFile && existsSync(config.healthcheck.disableByFile)) return 'DISABLED BY FILE';
      return (await db.ping(2000)) ? null : 'the database gives no connection within 2 s';
    },
    healthDetails: config.healthcheck.detailed ? health : null,
    adminHealth: async (ctx) => {
      policy.enforce(ctx, 'context_is_admin', { project_id: ctx.projectId });
      return health();
    },
    timeouts: { clientSocketMs: config.clientSocketTimeoutMs, jsonBodyMs: config.jsonBodyTimeoutMs, bodyIdleMs: config.bodyIdleTimeoutMs },
  };
}

/** With `[glimpse_webhooks]` subscriptions: their outbox table (created if missing) and the dispatcher that delivers it. */
async function webhookDispatcher(config: GlimpseConfig, db: Db, logger: Logger): Promise<{ dispatcher: WebhookDispatcher; outbox: WebhookOutbox } | null> {
  if (config.webhooks.subscriptions.length === 0) return null;
  const outbox = new WebhookOutbox(db);
  await outbox.ensureTable();
  return { outbox, dispatcher: new WebhookDispatcher(config.webhooks, outbox, config.importFilter, logger) };
}

/** What happens to an image's bytes when its record is deleted or its sharing changes. */
function dataHooks(imageData: ImageDataService, sharing: DataSharing, cache: ImageCache | null): DataHooks {
  return {
    assertDeletable: (ctx, imageId, locations, what) => imageData.assertDeletable(ctx, imageId, locations, what),
    removed: async (ctx, image) => {
      await imageData.removeData(ctx, image.id, image.locations);
      await imageData.unstage(image.id);
      await cache?.delete(image.id);
    },
    deactivated: async (imageId) => void (await cache?.delete(imageId)),
    dropped: (ctx, imageId, locations) => imageData.removeData(ctx, imageId, locations),
    sharingChanged: (ctx, image) => sharing.sync(callerOf(ctx), image),
  };
}

/** The series that read a part's state when scraped. */
function registerGauges(
  metrics: Metrics,
  p: { imageData: ImageDataService; worker: ImportWorker; db: Db; notify: Notifier; webhooks: { outbox: WebhookOutbox } | null; insight: InsightService },
): void {
  const { imageData, worker, db, notify, webhooks, insight } = p;
  metrics.gauge('glimpse_uploads_in_flight', 'Uploads and stagings this process is receiving', () => imageData.uploadsInFlight);
  metrics.gauge('glimpse_imports_in_flight', 'Import tasks this process is running', () => worker.inFlight);
  db.observePoolWaits?.((seconds) => metrics.poolWait.observe(seconds));
  const pool = () => db.poolStats?.() ?? { open: 0, idle: 0, waiting: 0 };
  metrics.gauge('glimpse_db_pool_connections_in_use', 'Database connections lent out now (PostgreSQL, MySQL)', () => pool().open - pool().idle);
  metrics.gauge('glimpse_db_pool_connections_open', 'Database connections open (PostgreSQL, MySQL)', () => pool().open);
  metrics.gauge('glimpse_db_pool_waiting', 'Requests waiting for a database connection', () => pool().waiting);
  metrics.gauge('glimpse_notifications_backlog', 'Notifications waiting to be sent', () => notify.stats().backlog);
  if (webhooks) metrics.gauge('glimpse_webhook_backlog', 'Webhook deliveries pending (not delivered, not given up)', () => webhooks.outbox.backlog());
  metrics.gauge('glimpse_notifications_dropped', 'Notifications dropped (backlog full) since start', () => notify.stats().dropped);
  metrics.gauge('glimpse_insight_queue', 'Images waiting for (or in) guest inspection on this node', () => insight.backlog);
}

/**
 * Image insight: every image that becomes active here is inspected when the
 * node inspects, and a sweep picks up images no node inspected yet.
 */
function startInsight(deps: InsightServiceDeps, imageData: ImageDataService): { service: InsightService; timer: NodeJS.Timeout | undefined } {
  const service = new InsightService(deps);
  imageData.onActivated((image) => service.activated(image));
  if (!service.active || deps.config.sweepIntervalMs === 0) return { service, timer: undefined };
  const sweep = () => void service.sweep().catch((err: unknown) => deps.log.warn({ err }, 'the insight sweep failed; it runs again next interval'));
  const timer = setInterval(sweep, deps.config.sweepIntervalMs);
  timer.unref();
  setImmediate(sweep);
  return { service, timer };
}

/**
 * Recovers what dead processes left (half-written data, imports whose worker
 * stopped) now, and then every `recovery_interval_seconds`: a node that died
 * is not always followed by a restart of this one.
 */
/**
 * Families, deprecation and retention, with their schedule in every process:
 * a deletion or deactivation is a conditional write only one process wins.
 */
function startLifecycle(
  p: { access: ImageAccess; images: ImagesService; repo: ImagesRepository; db: Db; notify: Notifier; logger: Logger; metrics: Metrics },
  intervalMs: number,
): { lifecycle: LifecycleService; retention: RetentionService; timer: NodeJS.Timeout } {
  const { logger, metrics } = p;
  const lifecycle = new LifecycleService({ ...p, schedule: new LifecycleRepository(p.db), log: logger, transitions: metrics.lifecycleTransitions });
  const retention = new RetentionService({ lifecycle, access: p.access, repo: new RetentionRepository(p.db), log: logger, transitions: metrics.lifecycleTransitions });
  const timer = setInterval(() => {
    lifecycle
      .applyDue()
      .then(() => retention.apply())
      .catch((err: unknown) => logger.warn({ err }, 'applying the deprecation schedule failed; it runs again next interval'));
  }, intervalMs);
  timer.unref();
  return { lifecycle, retention, timer };
}

async function startRecovery(imageData: ImageDataService, worker: ImportWorker, intervalMs: number, logger: Logger): Promise<NodeJS.Timeout> {
  const recover = async () => {
    const recovered = await imageData.recoverInterruptedWrites();
    if (recovered.reset.length || recovered.unstaged.length || recovered.removed.length) {
      logger.warn(recovered, 'recovered work interrupted by a dead process: images back to queued, stray staged data and data of deleted images removed');
    }
  };
  await recover();
  const resumed = await worker.recover();
  if (resumed.length) logger.warn({ tasks: resumed }, 'resumed imports whose worker had stopped');
  const timer = setInterval(() => {
    recover().catch((err: unknown) => logger.warn({ err }, 'the periodic recovery sweep failed; it runs again next interval'));
  }, intervalMs);
  timer.unref();
  return timer;
}

/** Puts a composed Glimpse on its socket; close() lets requests in flight finish, then stops it. */
export async function listen(glimpse: Glimpse, config: Pick<GlimpseConfig, 'bindHost' | 'bindPort'>): Promise<RunningServer> {
  const { app, db } = glimpse;
  try {
    await app.listen({ host: config.bindHost, port: config.bindPort });
  } catch (err) {
    await glimpse.stop();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.bindPort;
  const host = config.bindHost.includes(':') ? `[${config.bindHost}]` : config.bindHost;
  return {
    app,
    db,
    url: `http://${host}:${port}`,
    close: async () => {
      // Requests in flight finish; their connections close as soon as they
      // fall idle (not a keep-alive timeout later: closing only looks once).
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
      await glimpse.stop();
    },
  };
}
