/**
 * Unified limits from Keystone (`use_keystone_limits`), as oslo.limit reads
 * them: the image service's registered (default) limits, overridden by
 * per-project limits, found through `[oslo_limit] endpoint_id`. Cached per
 * project for a minute.
 */
import type { KeystoneValidator } from '../auth/keystone.js';
import { type LimitSource, type Limits, QUOTA_RESOURCES, type QuotaResource } from './quotas.js';

const CACHE_MS = 60_000;

export class KeystoneLimits implements LimitSource {
  private service: { serviceId: string; regionId: string | null } | null = null;
  private readonly cache = new Map<string, { limits: Limits; until: number }>();

  constructor(
    private readonly keystone: KeystoneValidator,
    private readonly endpointId: string,
  ) {}

  async limitsFor(projectId: string): Promise<Limits> {
    const cached = this.cache.get(projectId);
    if (cached && cached.until > Date.now()) return cached.limits;
    const { serviceId, regionId } = await this.endpoint();
    const region = regionId ? `&region_id=${encodeURIComponent(regionId)}` : '';
    const registered = (await this.keystone.get(`/registered_limits?service_id=${serviceId}${region}`)) as {
      registered_limits: { resource_name: string; default_limit: number }[];
    };
    const overrides = (await this.keystone.get(`/limits?service_id=${serviceId}&project_id=${encodeURIComponent(projectId)}${region}`)) as {
      limits: { resource_name: string; resource_limit: number }[];
    };
    const limits: Limits = {};
    for (const r of registered.registered_limits) if (isResource(r.resource_name)) limits[r.resource_name] = r.default_limit;
    for (const l of overrides.limits) if (isResource(l.resource_name)) limits[l.resource_name] = l.resource_limit;
    this.cache.set(projectId, { limits, until: Date.now() + CACHE_MS });
    return limits;
  }

  private async endpoint() {
    if (!this.service) {
      const body = (await this.keystone.get(`/endpoints/${this.endpointId}`)) as { endpoint: { service_id: string; region_id?: string | null } };
      this.service = { serviceId: body.endpoint.service_id, regionId: body.endpoint.region_id ?? null };
    }
    return this.service;
  }
}

function isResource(name: string): name is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(name);
}
