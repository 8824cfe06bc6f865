/**
 * Per-project quotas on Glance's unified-limit resources: the limits come
 * from Keystone (`use_keystone_limits`: registered limits and project
 * overrides) or from Glimpse's own `[glimpse_limits]` section; usage is
 * counted in the database as Glance counts it. Sizes are in MiB, as Glance's.
 */
import type { Db } from '../db/connection.js';
import type { Trx } from '../db/images-repo.js';
import type { Usage, UsageRepository } from '../db/usage-repo.js';
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

/** A project's limits and usage, read once for one write. */
export interface QuotaBudget {
  limits: Limits;
  used: Usage;
}

export interface QuotasDeps {
  source: LimitSource | null;
  usage: UsageRepository;
  db: Db;
  /** `[DEFAULT] user_storage_quota` in bytes (0: none), Glance's older per-project limit on stored bytes. */
  userStorageQuota: number;
}

export class Quotas {
  constructor(private readonly d: QuotasDeps) {}

  /**
   * Checks `deltas` against the project's limits and makes `change` under
   * one lock per project, in one transaction: two requests (on any node)
   * cannot both see room for one more and both take it. `change` must write
   * through the transaction it is given. Usage is counted once, under the lock.
   */
  async within<T>(projectId: string | null, deltas: QuotaDeltas, change: (trx: Trx) => Promise<T>): Promise<T> {
    const limits = this.d.source && projectId !== null ? await this.d.source.limitsFor(projectId) : {};
    const limited = (Object.keys(deltas) as QuotaResource[]).filter((r) => limits[r] !== undefined && limits[r]! >= 0);
    const storage = this.d.userStorageQuota > 0 && deltas.image_size_total !== undefined && deltas.image_size_total > 0;
    if (projectId === null || (limited.length === 0 && !storage)) return this.d.db.kysely.transaction().execute(change);
    return this.d.db.exclusive(`glimpse-quota:${projectId}`, async (trx) => {
      const used = await this.used(projectId, limited.length > 0, trx);
      for (const resource of limited) assertRoom(projectId, resource, limits[resource]!, used[resource], deltas[resource] ?? 0);
      if (storage && used.image_size_total + deltas.image_size_total! > this.d.userStorageQuota) {
        throw tooLarge(storageRefusal(projectId, this.d.userStorageQuota, used.image_size_total));
      }
      return change(trx);
    });
  }

  /** The project's limits and usage, asked for once (null when nothing limits it). */
  async budget(projectId: string | null): Promise<QuotaBudget | null> {
    if (projectId === null || (!this.d.source && this.d.userStorageQuota <= 0)) return null;
    const [limits, used] = await Promise.all([this.d.source?.limitsFor(projectId) ?? {}, this.used(projectId, this.d.source !== null)]);
    return { limits, used };
  }

  /** Usage as far as it is needed: with no unified limit to check, only the stored bytes (one query, not the whole count). */
  private async used(projectId: string, counts: boolean, trx?: Trx): Promise<Usage> {
    if (counts) return this.d.usage.usageOf(projectId, trx);
    const stored = await this.d.usage.storageUsedBy(projectId, trx);
    return { image_size_total: stored, image_stage_total: 0, image_count_total: 0, image_count_uploading: 0 };
  }

  /**
   * The most bytes one write may bring, from one budget: `image_size_cap`,
   * what is left of user_storage_quota, and of the unified limit
   * on `resource`, with the message naming the limit that binds.
   */
  async allowance(projectId: string | null, resource: 'image_size_total' | 'image_stage_total', cap: number): Promise<{ maxBytes: number; message: string }> {
    let maxBytes = cap;
    let message = `Image exceeds the maximum image size of ${cap} bytes (image_size_cap).`;
    const budget = await this.budget(projectId);
    if (!budget || projectId === null) return { maxBytes, message };
    const quota = this.d.userStorageQuota;
    // Staged data counts against user_storage_quota too, as every byte a project brings does.
    if (quota > 0) {
      const remaining = Math.max(0, quota - budget.used.image_size_total);
      if (remaining < maxBytes) {
        maxBytes = remaining;
        message = storageRefusal(projectId, quota, budget.used.image_size_total);
      }
    }
    const limit = budget.limits[resource];
    const unified = limit === undefined || limit < 0 ? Number.POSITIVE_INFINITY : Math.max(0, limit * MiB - budget.used[resource]);
    if (unified < maxBytes) {
      maxBytes = unified;
      message = `Quota exceeded for ${resource}: project ${projectId} has ${unified} bytes left under its limit.`;
    }
    return { maxBytes, message };
  }

  /** `GET /v2/info/usage`: every limited resource with its limit and usage ({} when quotas are off). */
  async usage(projectId: string | null): Promise<Record<string, { limit: number; usage: number }>> {
    if (!this.d.source || projectId === null) return {};
    const budget = await this.budget(projectId);
    const out: Record<string, { limit: number; usage: number }> = {};
    for (const resource of QUOTA_RESOURCES) {
      const limit = budget?.limits[resource];
      if (limit === undefined || !budget) continue;
      const used = budget.used[resource];
      out[resource] = { limit, usage: SIZE_RESOURCES.includes(resource) ? Math.ceil(used / MiB) : used };
    }
    return out;
  }
}

function storageRefusal(projectId: string, quota: number, stored: number): string {
  return `Denying attempt to upload image because it exceeds the quota: the storage quota of project ${projectId} is ${quota} bytes, of which ${Math.max(0, quota - stored)} remain.`;
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
