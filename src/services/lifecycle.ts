/**
 * Image families and deprecation, beyond Glance, stored as ordinary image
 * properties and Glance states so that glance-api beside Glimpse, and every
 * client, see a coherent image:
 * - `glimpse_family`: the family an image belongs to; a family resolves to
 *   its newest active, non-deprecated image the caller can see;
 * - deprecating sets `os_hidden` (deprecated images leave default lists, as
 *   on AWS, and still work by id) and `glimpse_deprecated_at`, with an
 *   optional `glimpse_replacement` and the scheduled `glimpse_obsolete_at`
 *   and `glimpse_delete_at`.
 */
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { ImagesRepository } from '../db/images-repo.js';
import type { Logger } from 'pino';
import type { LifecycleRepository } from '../db/lifecycle-repo.js';
import { GlimpseError, badRequest, notFound } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import type { Notifier } from '../notify/notifier.js';
import { imagePayload } from '../notify/payloads.js';
import type { ImageAccess } from './image-access.js';
import type { ImagesService } from './images.js';

export const FAMILY = 'glimpse_family';
export const DEPRECATED_AT = 'glimpse_deprecated_at';
export const REPLACEMENT = 'glimpse_replacement';
export const OBSOLETE_AT = 'glimpse_obsolete_at';
export const DELETE_AT = 'glimpse_delete_at';
/** Where an image came from: Nova's snapshot property, or Glimpse's for any derived image. */
const PARENT_PROPERTIES = ['base_image_ref', 'glimpse_derived_from'] as const;
export const SOURCE_URL = 'glimpse_source_url';
/** The disk_format an import's conversion (image_conversion) turned into the image's own. */
export const CONVERTED_FROM = 'glimpse_converted_from';
/** The store a copy-image import copied the data from. */
export const COPIED_FROM = 'glimpse_copied_from';
/** Lineage walks at most this many generations each way. */
const MAX_GENERATIONS = 20;
const DEPRECATION = [DEPRECATED_AT, REPLACEMENT, OBSOLETE_AT, DELETE_AT];
/** A family name is a property value: Glance's 255-character limit. */
const MAX_FAMILY = 255;

export interface LifecycleDeps {
  access: ImageAccess;
  images: ImagesService;
  repo: ImagesRepository;
  schedule: LifecycleRepository;
  notify: Notifier;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Counts the scheduled transitions this process made. */
  transitions: { inc(labels: { transition: string }): void };
  now?: () => Date;
}

/** What one pass of the scheduler did. */
export interface ScheduledPass {
  obsoleted: string[];
  deleted: string[];
  /** Due for deletion but protected: reported, left in place. */
  skipped: string[];
}

/** The scheduler acts as the service itself: an admin of no project. */
export const SCHEDULER: RequestContext = { requestId: 'glimpse-lifecycle', userId: null, projectId: null, roles: ['admin'], isAdmin: true, readOnly: false, authToken: null };

export interface Family {
  family: string;
  /** The newest active, non-deprecated image; null when every version is deprecated or unusable. */
  latest: Image | null;
  /** Every version the caller can see, newest first, deprecated ones included. */
  versions: Image[];
}

/** One image in a lineage, and the property that links it to the next. */
export interface Relative {
  image: Image;
  via: (typeof PARENT_PROPERTIES)[number];
}

export interface Lineage {
  image: Image;
  /** Nearest first; the walk stops at an image the caller cannot see. */
  ancestors: Relative[];
  /** Breadth first, only images the caller can see. */
  descendants: Relative[];
}

export class LifecycleService {
  constructor(private readonly d: LifecycleDeps) {}

  /** Images the caller can see with this property value, hidden ones included (two lists, as a client would), newest first. */
  private async withProperty(ctx: RequestContext, name: string, value: string): Promise<Image[]> {
    const lists = await Promise.all(
      ['false', 'true'].map((hidden) => this.d.images.list(ctx, [[name, value], ['os_hidden', hidden], ['limit', '1000'], ['sort_key', 'created_at'], ['sort_dir', 'desc']])),
    );
    return lists.flatMap((l) => l.images).sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a.id < b.id ? 1 : -1));
  }

  /**
   * GET /v2/glimpse/images/{id}/lineage: where an image came from and what
   * was made from it, through `base_image_ref` (Nova's snapshots) and
   * `glimpse_derived_from`. Only images the caller can see appear: an
   * ancestor it cannot see ends the walk, as if there were none.
   */
  async lineage(ctx: RequestContext, id: string): Promise<Lineage> {
    const { image } = await this.d.access.load(ctx, id);
    const ancestors: Relative[] = [];
    const seen = new Set([image.id]);
    for (let current = image; ancestors.length < MAX_GENERATIONS; ) {
      const via = PARENT_PROPERTIES.find((p) => current.properties[p]);
      const parentId = via && current.properties[via];
      if (!via || !parentId || seen.has(parentId)) break;
      const parent = await this.d.access.load(ctx, parentId).catch(() => null);
      if (!parent) break;
      ancestors.push({ image: parent.image, via });
      seen.add(parentId);
      current = parent.image;
    }
    const descendants: Relative[] = [];
    for (let generation = [image.id], depth = 0; generation.length && depth < MAX_GENERATIONS; depth++) {
      const next: string[] = [];
      for (const parentId of generation) {
        for (const via of PARENT_PROPERTIES) {
          for (const child of await this.withProperty(ctx, via, parentId)) {
            if (seen.has(child.id)) continue;
            seen.add(child.id);
            descendants.push({ image: child, via });
            next.push(child.id);
          }
        }
      }
      generation = next;
    }
    return { image, ancestors, descendants };
  }

  async family(ctx: RequestContext, family: string): Promise<Family> {
    if (family.length === 0 || family.length > MAX_FAMILY) throw badRequest(`A family name has 1 to ${MAX_FAMILY} characters.`);
    const versions = await this.withProperty(ctx, FAMILY, family);
    if (versions.length === 0) throw notFound(`No image of family ${family} is visible to you.`);
    const latest = versions.find((i) => i.status === 'active' && !i.os_hidden && !(DEPRECATED_AT in i.properties)) ?? null;
    return { family, latest, versions };
  }

  /** POST /v2/images/{id}/actions/deprecate (policy deprecate_image). */
  async deprecate(ctx: RequestContext, id: string, body: unknown): Promise<Image> {
    assertWritable(ctx);
    const { image, target } = await this.d.access.load(ctx, id);
    this.d.access.authorize(ctx, 'deprecate_image', target);
    const request = parseDeprecation(body);
    if (request.replacement !== undefined) {
      if (request.replacement === image.id) throw badRequest('An image cannot replace itself.');
      await this.d.access.load(ctx, request.replacement).catch(() => {
        throw badRequest(`Replacement image ${request.replacement} could not be found.`);
      });
    }
    const set: Record<string, string> = { [DEPRECATED_AT]: (this.d.now?.() ?? new Date()).toISOString() };
    if (request.replacement) set[REPLACEMENT] = request.replacement;
    if (request.obsoleteAt) set[OBSOLETE_AT] = request.obsoleteAt.toISOString();
    if (request.deleteAt) set[DELETE_AT] = request.deleteAt.toISOString();
    const stale = DEPRECATION.filter((key) => key in image.properties && !(key in set));
    return this.change(image, { fields: { os_hidden: true }, setProperties: set, removeProperties: stale });
  }

  /** POST /v2/images/{id}/actions/undeprecate: the image is listed again and its schedule is dropped. */
  async undeprecate(ctx: RequestContext, id: string): Promise<Image> {
    assertWritable(ctx);
    const { image, target } = await this.d.access.load(ctx, id);
    this.d.access.authorize(ctx, 'deprecate_image', target);
    if (!(DEPRECATED_AT in image.properties)) throw badRequest(`Image ${id} is not deprecated.`);
    return this.change(image, { fields: { os_hidden: false }, removeProperties: DEPRECATION.filter((key) => key in image.properties) });
  }

  /**
   * Applies the transitions that are due: an image past `glimpse_obsolete_at`
   * is deactivated, one past `glimpse_delete_at` deleted unless protected.
   * Every process may run it at once: each transition is a conditional
   * write (from active, from not deleted) that only one of them wins, and
   * only the winner counts it and notifies.
   */
  async applyDue(): Promise<ScheduledPass> {
    const now = this.d.now?.() ?? new Date();
    const pass: ScheduledPass = { obsoleted: [], deleted: [], skipped: [] };
    const due = (await this.d.schedule.scheduled([OBSOLETE_AT, DELETE_AT])).filter((t) => Date.parse(t.value) <= now.getTime());
    for (const { imageId, name } of due.sort((a, b) => (a.name < b.name ? 1 : -1))) {
      const image = await this.d.repo.get(imageId);
      if (!image) continue;
      if (name === DELETE_AT) {
        if (image.protected) {
          pass.skipped.push(imageId);
          continue;
        }
        if (await this.remove(imageId)) {
          pass.deleted.push(imageId);
          this.d.transitions.inc({ transition: 'delete' }); // as it happens: whoever sees the effect sees it counted
        }
      } else if (image.status === 'active' && (await this.won(() => this.d.images.deactivate(SCHEDULER, imageId)))) {
        pass.obsoleted.push(imageId);
        this.d.transitions.inc({ transition: 'obsolete' });
      }
    }
    if (pass.obsoleted.length || pass.deleted.length) this.d.log.info(pass, 'deprecation schedule applied');
    if (pass.skipped.length) this.d.log.warn({ images: pass.skipped }, 'due for deletion but protected: left in place until unprotected or undeprecated');
    return pass;
  }

  /** A family's versions the caller can see, hidden ones included, newest first. */
  versions(ctx: RequestContext, family: string): Promise<Image[]> {
    return this.withProperty(ctx, FAMILY, family);
  }

  /**
   * Deprecates for the schedule (retention), with the newest version as the
   * replacement; false when the image is already deprecated (another process
   * got to it first: the outcome is the same either way).
   */
  async retire(imageId: string, replacement: string): Promise<boolean> {
    const image = await this.d.repo.get(imageId);
    if (!image || DEPRECATED_AT in image.properties) return false;
    await this.deprecate(SCHEDULER, imageId, { replacement });
    return true;
  }

  /** Deletes for the schedule; false when another process deleted it first. */
  remove(imageId: string): Promise<boolean> {
    return this.won(async () => (await this.d.images.delete(SCHEDULER, imageId), true));
  }

  /** Runs a transition; false when another process made it first (it found it made, or its conditional write lost). */
  private async won(transition: () => Promise<boolean>): Promise<boolean> {
    try {
      return await transition();
    } catch (err) {
      if (err instanceof GlimpseError && (err.kind === 'conflict' || err.kind === 'not_found' || err.kind === 'forbidden')) return false;
      throw err;
    }
  }

  private async change(image: Image, change: Parameters<ImagesRepository['update']>[1]): Promise<Image> {
    const updated = await this.d.repo.update(image.id, change);
    this.d.notify.emit('image.update', imagePayload(updated));
    return updated;
  }
}

interface Deprecation {
  replacement?: string;
  obsoleteAt?: Date;
  deleteAt?: Date;
}

/** `{ "replacement": id, "obsolete_at": time, "delete_at": time }`, each optional; an empty body is none of them. */
function parseDeprecation(body: unknown): Deprecation {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The deprecation body must be a JSON object.');
  const { replacement, obsolete_at, delete_at, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown deprecation field(s): ${unknown.join(', ')}. Known: replacement, obsolete_at, delete_at.`);
  if (replacement !== undefined && (typeof replacement !== 'string' || replacement.length === 0 || replacement.length > 36)) {
    throw badRequest('replacement must be an image id.');
  }
  const out: Deprecation = { replacement: replacement as string | undefined, obsoleteAt: time(obsolete_at, 'obsolete_at'), deleteAt: time(delete_at, 'delete_at') };
  if (out.obsoleteAt && out.deleteAt && out.deleteAt < out.obsoleteAt) throw badRequest('delete_at must not come before obsolete_at.');
  return out;
}

function time(value: unknown, name: string): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value) ? new Date(value) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) throw badRequest(`${name} must be an ISO 8601 time, such as 2027-01-31T00:00:00Z.`);
  return parsed;
}
