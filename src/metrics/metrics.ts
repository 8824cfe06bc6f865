/**
 * What a node is doing, as Prometheus series (prom-client): requests by route
 * template and status with latency, image bytes in and out, uploads and
 * imports in flight, import results, refused uploads by reason, store read
 * errors, the notification backlog and the image cache's hits and misses.
 * One registry per composed server, so several in one process (tests) keep
 * their own counts; gauges read their value when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'glimpse_http_requests_total', help: 'HTTP requests answered, by method, route template and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'glimpse_http_request_duration_seconds',
    help: 'Time to answer HTTP requests (to the last byte sent), by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly bytesUploaded = new Counter({ name: 'glimpse_image_bytes_uploaded_total', help: 'Image bytes written to stores (uploads and imports)', registers: [this.registry] });
  readonly bytesDownloaded = new Counter({ name: 'glimpse_image_bytes_downloaded_total', help: 'Image bytes sent to clients', registers: [this.registry] });
  readonly importResults = new Counter({ name: 'glimpse_import_tasks_total', help: 'Import tasks finished, by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly uploadRefusals = new Counter({ name: 'glimpse_upload_refusals_total', help: 'Uploads refused, by reason (format inspection, size, quota, bad request)', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly lifecycleTransitions = new Counter({ name: 'glimpse_lifecycle_transitions_total', help: 'Scheduled deprecation transitions this process made (obsolete, delete)', labelNames: ['transition'] as const, registers: [this.registry] });
  readonly insightResults = new Counter({ name: 'glimpse_insight_inspections_total', help: 'Guest inspections this process finished, by result (inspected, unreadable, failed)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly insightSeconds = new Histogram({ name: 'glimpse_insight_seconds', help: 'Time one guest inspection took, download included', buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: [this.registry] });
  readonly storeErrors = new Counter({ name: 'glimpse_store_errors_total', help: 'Store reads that failed, by store', labelNames: ['store'] as const, registers: [this.registry] });
  readonly poolWait = new Histogram({
    name: 'glimpse_db_pool_wait_seconds',
    help: 'Time requests waited for a database connection (PostgreSQL, MySQL)',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly cacheLookups = new Counter({ name: 'glimpse_image_cache_lookups_total', help: 'Downloads looked up in the image cache, by result (hit, miss)', labelNames: ['result'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'glimpse_' });
  }

  /** A gauge whose value is read when scraped. */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
