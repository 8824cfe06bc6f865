/**
 * Per-project quotas on Glance's unified-limit resources: the limits come
 * from Keystone (`use_keystone_limits`: registered limits and project
 * overrides) or from Glimpse's own `[glimpse_limits]` section; usage is
 * counted in the database as Glance counts it. Sizes are in MiB, as Glance's.
 */
import type { ImagesRepository } from '../db/images-repo.js';
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

export class Quotas {
  constructor(
    private readonly source: LimitSource | null,
    private readonly repo: ImagesRepository,
  ) {}

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

  /** Refuses (413) when a project already uses all of any of these resources. */
  async enforce(projectId: string | null, resources: QuotaResource[]): Promise<void> {
    if (!this.source || projectId === null) return;
    const [limits, used] = await Promise.all([this.source.limitsFor(projectId), this.repo.usageOf(projectId)]);
    for (const resource of resources) {
      const limit = limits[resource];
      if (limit === undefined || limit < 0) continue;
      const usage = SIZE_RESOURCES.includes(resource) ? used[resource] / MiB : used[resource];
      if (usage >= limit) {
        throw tooLarge(`Quota exceeded for ${resource}: the limit of project ${projectId} is ${limit}${SIZE_RESOURCES.includes(resource) ? ' MiB' : ''} and ${Math.ceil(usage)} is used.`);
      }
    }
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
