/**
 * Per-project quotas on Glance's unified-limit resources: the limits come
 * from Keystone (`use_keystone_limits`: registered limits and project
 * overrides) or from Glimpse's own `[glimpse_limits]` section; usage is
 * counted in the database as Glance counts it. Sizes are in MiB, as Glance's.
 */
import type { Db } from '../db/connection.js';
import type { ImagesRepository, Trx } from '../db/images-repo.js';
import { tooLarge } from '../domain/errors.js';

export const QUOTA_RESOURCES = ['image_size_total', 'image_stage_total', 'image_count_total', 'image_count_uploading'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type Limits = Partial<Record<QuotaResource, number>>;

export interface LimitSource {
  limitsFor(projectId: string): Promise<Limits>;
}

const MiB = 1024 * 1024;
const SIZE_RESOURCES: readonly QuotaResource[] = ['image_size_total', 'image_stage_total'];

export class StaticLimits implements LimitSource {
  constructor(private readonly limits: Limits) {}
  async limitsFor(): Promise<Limits> {
    return this.limits;
  }
}

/** What a change adds to a project's usage: 1 image, n bytes … (0: refuse only if already at the limit). */
export type QuotaDeltas = Partial<Record<QuotaResource, number>>;

export class Quotas {
  constructor(
    private readonly source: LimitSource | null,
    private readonly repo: ImagesRepository,
    private readonly db: Db,
    /** `[DEFAULT] user_storage_quota` in bytes (0: none), Glance's older per-project limit on stored bytes. */
    private readonly userStorageQuota = 0,
  ) {}

  /**
   * Checks `deltas` against the project's limits and makes `change` under
   * one lock per project, in one transaction: two requests (on any node)
   * cannot both see room for one more and both take it. `change` must write
   * through the transaction it is given.
   */
  async within<T>(projectId: string | null, deltas: QuotaDeltas, change: (trx: Trx) => Promise<T>): Promise<T> {
    const limits = this.source && projectId !== null ? await this.source.limitsFor(projectId) : {};
    const limited = (Object.keys(deltas) as QuotaResource[]).filter((r) => limits[r] !== undefined && limits[r]! >= 0);
    const storage = this.userStorageQuota > 0 && deltas.image_size_total !== undefined;
    if (projectId === null || (limited.length === 0 && !storage)) return this.db.kysely.transaction().execute(change);
    return this.db.exclusive(`glimpse-quota:${projectId}`, async (trx) => {
      if (limited.length) {
        const used = await this.repo.usageOf(projectId, trx);
        for (const resource of limited) assertRoom(projectId, resource, limits[resource]!, used[resource], deltas[resource] ?? 0);
      }
      if (storage && deltas.image_size_total! > 0) {
        const stored = await this.repo.storageUsedBy(projectId, trx);
        if (stored + deltas.image_size_total! > this.userStorageQuota) {
          throw tooLarge(`Denying attempt to upload image because it exceeds the quota: the storage quota of project ${projectId} is ${this.userStorageQuota} bytes, of which ${Math.max(0, this.userStorageQuota - stored)} remain.`);
        }
      }
      return change(trx);
    });
  }

  get enabled(): boolean {
    return this.source !== null;
  }

  /** `GET /v2/info/usage`: every limited resource with its limit and usage ({} when quotas are off). */
  async usage(projectId: string | null): Promise<Record<string, { limit: number; usage: number }>> {
    if (!this.source || projectId === null) return {};
    const [limits, used] = await Promise.all([this.source.limitsFor(projectId), this.repo.usageOf(projectId)]);
    const out: Record<string, { limit: number; usage: number }> = {};
    for (const resource of QUOTA_RESOURCES) {
      const limit = limits[resource];
      if (limit === undefined) continue;
      const usage = SIZE_RESOURCES.includes(resource) ? Math.ceil(used[resource] / MiB) : used[resource];
      out[resource] = { limit, usage };
    }
    return out;
  }

  /** Bytes this project may still add under image_size_total (or stage under image_stage_total). */
  async remainingBytes(projectId: string | null, resource: 'image_size_total' | 'image_stage_total'): Promise<number> {
    if (!this.source || projectId === null) return Number.POSITIVE_INFINITY;
    const [limits, used] = await Promise.all([this.source.limitsFor(projectId), this.repo.usageOf(projectId)]);
    const limit = limits[resource];
    if (limit === undefined || limit < 0) return Number.POSITIVE_INFINITY;
    return Math.max(0, limit * MiB - used[resource]);
  }
}

/**
 * As Glance: with nothing to add, a project at its limit is refused; with a
 * delta (one more image, the bytes just received), usage plus the delta may
 * not pass the limit. Sizes are limited in MiB and counted in bytes.
 */
function assertRoom(projectId: string, resource: QuotaResource, limit: number, usedRaw: number, delta: number): void {
  const size = SIZE_RESOURCES.includes(resource);
  const scale = size ? MiB : 1;
  const over = delta > 0 ? usedRaw + delta > limit * scale : usedRaw >= limit * scale;
  if (over) {
    const shown = Math.ceil((usedRaw + delta) / scale);
    throw tooLarge(`Quota exceeded for ${resource}: the limit of project ${projectId} is ${limit}${size ? ' MiB' : ''} and this would make ${shown}${size ? ' MiB' : ''}.`);
  }
}
