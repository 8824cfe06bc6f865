/**
 * Per-family retention, set by a project for its own images of a family and
 * applied by the deprecation schedule (services/lifecycle.ts): keep the
 * newest N versions listed, deprecate a version D days after it was made
 * once a newer one exists, delete a deprecated version D days after its
 * deprecation (never a protected one). The plan is computed the same way for
 * the dry run a client asks for and for the pass that applies it.
 */
import type { Logger } from 'pino';
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { RetentionPolicy, RetentionRepository } from '../db/retention-repo.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import type { ImageAccess } from './image-access.js';
import { DEPRECATED_AT, type LifecycleService, SCHEDULER } from './lifecycle.js';

const DAY_MS = 86_400_000;
const MAX_COUNT = 100_000;

export interface PlannedStep {
  image: Image;
  action: 'deprecate' | 'delete' | 'keep';
  reason: string;
}

export type PolicyFields = Pick<RetentionPolicy, 'keep_newest' | 'deprecate_after_days' | 'delete_deprecated_after_days'>;

/** What a policy does next to a family's versions (`versions` newest first, all owned by the policy's project). */
export function plan(policy: PolicyFields, versions: Image[], now: Date): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const current = versions.filter((i) => i.status === 'active' && !(DEPRECATED_AT in i.properties));
  current.forEach((image, index) => {
    if (index === 0) return; // the newest usable version is never retired by age or count
    if (policy.keep_newest !== null && index >= policy.keep_newest) {
      steps.push({ image, action: 'deprecate', reason: `beyond the newest ${policy.keep_newest}` });
    } else if (policy.deprecate_after_days !== null && now.getTime() - image.created_at.getTime() >= policy.deprecate_after_days * DAY_MS) {
      steps.push({ image, action: 'deprecate', reason: `older than ${policy.deprecate_after_days} days, with a newer version` });
    }
  });
  if (policy.delete_deprecated_after_days !== null) {
    for (const image of versions) {
      const since = Date.parse(image.properties[DEPRECATED_AT] ?? '');
      if (Number.isNaN(since) || now.getTime() - since < policy.delete_deprecated_after_days * DAY_MS) continue;
      const reason = `deprecated more than ${policy.delete_deprecated_after_days} days ago`;
      steps.push(image.protected ? { image, action: 'keep', reason: `${reason}, but protected` } : { image, action: 'delete', reason });
    }
  }
  return steps;
}

/** `{keep_newest, deprecate_after_days, delete_deprecated_after_days}`: each a count of 0 to 100,000, or null for none. */
export function parsePolicy(body: unknown): PolicyFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The retention policy must be a JSON object.');
  const { keep_newest = null, deprecate_after_days = null, delete_deprecated_after_days = null, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length) throw badRequest(`Unknown retention field(s): ${Object.keys(rest).join(', ')}. Known: keep_newest, deprecate_after_days, delete_deprecated_after_days.`);
  const count = (value: unknown, name: string) => {
    if (value === null) return null;
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_COUNT) throw badRequest(`${name} must be a whole number from 0 to ${MAX_COUNT}, or null.`);
    return value as number;
  };
  const policy = {
    keep_newest: count(keep_newest, 'keep_newest'),
    deprecate_after_days: count(deprecate_after_days, 'deprecate_after_days'),
    delete_deprecated_after_days: count(delete_deprecated_after_days, 'delete_deprecated_after_days'),
  };
  if (policy.keep_newest === 0) throw badRequest('keep_newest must keep at least one version.');
  return policy;
}

/** The project a policy belongs to: the caller's own. */
export function ownerOf(ctx: RequestContext, write: boolean): string {
  if (write) assertWritable(ctx);
  if (!ctx.projectId) throw forbidden('A retention policy belongs to a project: use a project-scoped token.');
  return ctx.projectId;
}

export async function policyOf(repo: RetentionRepository, family: string, owner: string): Promise<RetentionPolicy> {
  const policy = await repo.get(family, owner);
  if (!policy) throw notFound(`Family ${family} has no retention policy for project ${owner}.`);
  return policy;
}

export interface RetentionDeps {
  lifecycle: LifecycleService;
  access: ImageAccess;
  repo: RetentionRepository;
  log: Pick<Logger, 'info'>;
  transitions: { inc(labels: { transition: string }): void };
  now?: () => Date;
}

/** A policy and what it would do now: the dry run. */
export interface RetentionView {
  policy: RetentionPolicy;
  steps: PlannedStep[];
}

export class RetentionService {
  constructor(private readonly d: RetentionDeps) {}

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  /** PUT /v2/glimpse/families/{family}/retention (policy manage_family_retention). */
  async set(ctx: RequestContext, family: string, body: unknown): Promise<RetentionView> {
    const owner = ownerOf(ctx, true);
    this.d.access.authorize(ctx, 'manage_family_retention', { project_id: owner });
    await this.d.repo.set({ family, owner, ...parsePolicy(body) });
    return this.view(ctx, family);
  }

  /** GET …/retention: the caller's project's policy, and what the next pass would do (nothing is changed). */
  async view(ctx: RequestContext, family: string): Promise<RetentionView> {
    const owner = ownerOf(ctx, false);
    const policy = await policyOf(this.d.repo, family, owner);
    const versions = (await this.d.lifecycle.versions(ctx, family)).filter((i) => i.owner === owner);
    return { policy, steps: plan(policy, versions, this.now()) };
  }

  async remove(ctx: RequestContext, family: string): Promise<void> {
    const owner = ownerOf(ctx, true);
    this.d.access.authorize(ctx, 'manage_family_retention', { project_id: owner });
    if (!(await this.d.repo.remove(family, owner))) throw notFound(`Family ${family} has no retention policy for project ${owner}.`);
  }

  /** Applies every policy, as the schedule runs it in every process: a deletion happens once; a deprecation's outcome is the same whoever makes it. */
  async apply(): Promise<{ deprecated: string[]; deleted: string[] }> {
    const done = { deprecated: [] as string[], deleted: [] as string[] };
    for (const policy of await this.d.repo.all()) {
      const versions = (await this.d.lifecycle.versions(SCHEDULER, policy.family)).filter((i) => i.owner === policy.owner);
      const newest = versions.find((i) => i.status === 'active' && !(DEPRECATED_AT in i.properties));
      // Each transition is counted as it happens: whoever sees its effect sees it counted.
      for (const step of plan(policy, versions, this.now())) {
        if (step.action === 'deprecate' && newest && (await this.d.lifecycle.retire(step.image.id, newest.id))) {
          done.deprecated.push(step.image.id);
          this.d.transitions.inc({ transition: 'retention_deprecate' });
        }
        if (step.action === 'delete' && (await this.d.lifecycle.remove(step.image.id))) {
          done.deleted.push(step.image.id);
          this.d.transitions.inc({ transition: 'retention_delete' });
        }
      }
    }
    if (done.deprecated.length || done.deleted.length) this.d.log.info(done, 'retention policies applied');
    return done;
  }
}
