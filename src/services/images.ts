/**
 * Image records: create, list, show, update, delete, tags, deactivation.
 * Every call reads top to bottom: load → policy → domain rules → repository.
 */
import { randomUUID } from 'node:crypto';
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { PropertyProtections } from '../auth/property-protections.js';
import type { ChildQuotas, ImageChange, ImagesRepository } from '../db/images-repo.js';
import { badRequest, conflict, forbidden, notFound, tooLarge } from '../domain/errors.js';
import {
  type Image,
  type ImageLocation,
  MAX_INT32,
  MAX_STRING_LENGTH,
  assertNo4ByteChars,
  assertTag,
  assertWritableKey,
  countedProperties,
  isBaseAttribute,
  isReadOnly,
  isReserved,
} from '../domain/image.js';
import type { JsonSchema } from '../domain/schemas.js';
import { dict, hasKey } from '../domain/dict.js';
import { parseListQuery, type QueryPairs } from './image-list-query.js';
import { type PatchDialect, type PatchOp, parsePatch } from './image-patch.js';
import { type ImageAccess, imageTarget } from './image-access.js';
import type { LocationsService } from './locations.js';
import type { Notifier } from '../notify/notifier.js';
import { deletedPayload, imagePayload } from '../notify/payloads.js';
import type { Quotas } from './quotas.js';
import { SchemaValidator } from './validator.js';

export interface ImageLimits {
  imagePropertyQuota: number;
  imageTagQuota: number;
  limitParamDefault: number;
  apiLimitMax: number;
  maxListFilters: number;
}

/** Glance stores a property value as TEXT: 65,535 bytes on MySQL, so at most that anywhere. */
export const MAX_PROPERTY_VALUE_BYTES = 65_535;

/** What happens to an image's bytes when its record changes (wired by the composition root). */
export interface DataHooks {
  /**
   * Before the record drops these locations (all of an image being deleted,
   * or those a PATCH removes): a conflict while their data is in use outside
   * Glimpse (clones of an RBD snapshot).
   */
  assertDeletable(ctx: RequestContext, imageId: string, locations: ImageLocation[], what: 'image' | 'data'): Promise<void>;
  /** The image was deleted: its data goes, in every store and staging. */
  removed(ctx: RequestContext, image: Image): Promise<void>;
  /** The image was deactivated: cached copies go (a cached copy never outlives the right to serve it). */
  deactivated(imageId: string): Promise<void>;
  /** A PATCH removed these locations: their data goes. */
  dropped(ctx: RequestContext, imageId: string, locations: ImageLocation[]): Promise<void>;
  /** Visibility changed: multi-tenant stores update who may read the data (DataSharing). */
  sharingChanged(ctx: RequestContext, image: Image): Promise<void>;
}

export interface ImagesServiceDeps {
  repo: ImagesRepository;
  access: ImageAccess;
  limits: ImageLimits;
  /** The image schema served and validated (Glance's standard properties, or the operator's schema-image.json). */
  schema: JsonSchema;
  data: DataHooks;
  /** PATCHes of /locations. */
  locations: LocationsService;
  protections: PropertyProtections | null;
  quotas: Quotas;
  notify: Notifier;
}

export class ImagesService {
  private readonly validator: SchemaValidator;
  private readonly required: string[];
  private readonly repo: ImagesRepository;
  private readonly access: ImageAccess;
  private readonly limits: ImageLimits;
  private readonly protections: PropertyProtections | null;

  constructor(private readonly d: ImagesServiceDeps) {
    ({ repo: this.repo, access: this.access, limits: this.limits, protections: this.protections } = d);
    this.validator = new SchemaValidator('image', d.schema);
    this.required = (d.schema.required as string[] | undefined) ?? [];
  }

  async create(ctx: RequestContext, body: unknown): Promise<Image> {
    assertWritable(ctx);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
    const input = body as Record<string, unknown>;
    for (const key of Object.keys(input)) assertWritableKey(key);
    this.validator.validate(input);
    const properties = dict<string>();
    for (const [key, value] of Object.entries(input)) {
      if (isBaseAttribute(key)) continue;
      this.protections?.enforce(ctx, key, 'create');
      properties[key] = this.propertyValue(key, value);
    }
    const owner = 'owner' in input ? (input.owner as string | null) : ctx.projectId;
    if (!ctx.isAdmin && owner !== ctx.projectId) {
      throw forbidden(`You are not permitted to create images owned by '${owner}'.`);
    }
    const now = new Date();
    const image: Image = {
      id: (input.id as string | undefined)?.toLowerCase() ?? randomUUID(),
      name: (input.name as string | null | undefined) ?? null,
      status: 'queued',
      visibility: (input.visibility as Image['visibility'] | undefined) ?? 'shared',
      protected: (input.protected as boolean | undefined) ?? false,
      os_hidden: (input.os_hidden as boolean | undefined) ?? false,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      owner,
      size: null,
      virtual_size: null,
      container_format: (input.container_format as string | null | undefined) ?? null,
      disk_format: (input.disk_format as string | null | undefined) ?? null,
      min_ram: (input.min_ram as number | undefined) ?? 0,
      min_disk: (input.min_disk as number | undefined) ?? 0,
      created_at: now,
      updated_at: now,
      properties,
      tags: [...new Set((input.tags as string[] | undefined) ?? [])],
      locations: [],
    };
    this.checkValues(image);
    this.access.authorize(ctx, 'add_image', imageTarget(image, null));
    this.checkVisibilityChange(ctx, image);
    this.checkQuotas(image);
    await this.d.quotas.within(image.owner, { image_count_total: 1 }, (trx) => this.repo.create(image, trx));
    this.d.notify.emit('image.create', imagePayload(image));
    return image;
  }

  /** `signal`: aborted when the client goes away, which cancels the query in the database. */
  async list(ctx: RequestContext, pairs: QueryPairs, signal?: AbortSignal): Promise<{ images: Image[]; more: boolean }> {
    this.access.authorize(ctx, 'get_images', { project_id: ctx.projectId });
    const parsed = parseListQuery(pairs, this.limits);
    const marker = parsed.markerId === null ? null : await this.marker(ctx, parsed.markerId);
    if (parsed.limit === 0) return { images: [], more: false };
    const viewer = { projectId: ctx.projectId, isAdmin: ctx.isAdmin };
    const rows = await this.repo.list({ ...parsed, viewer, marker }, signal);
    const images = rows.filter((image) => this.access.allowed(ctx, 'get_image', listedTarget(ctx, image)));
    return { images, more: rows.length === parsed.limit };
  }

  async show(ctx: RequestContext, id: string): Promise<Image> {
    return (await this.access.load(ctx, id)).image;
  }

  async update(ctx: RequestContext, id: string, dialect: PatchDialect, body: unknown): Promise<Image> {
    assertWritable(ctx);
    const ops = parsePatch(body, dialect);
    const loaded = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'modify_image', loaded.target);
    // The caller patches what it can read; protected properties it cannot see stay as they are.
    const image = this.access.view(ctx, loaded.image);
    const next = cloneImage(image);
    for (const op of ops) {
      if (op.path[0] === 'locations') await this.d.locations.patch(ctx, next, op, loaded.target);
      else this.applyOp(next, op, dialect);
    }
    if (ops.length === 0) return image;
    this.checkProtections(ctx, image, next);

    if (next.owner !== image.owner && !ctx.isAdmin) throw forbidden("Attribute 'owner' may only be changed by an administrator.");
    if (next.visibility !== image.visibility) this.checkVisibilityChange(ctx, next);
    for (const key of ['disk_format', 'container_format'] as const) {
      if (next[key] !== image[key] && image.status !== 'queued') {
        throw forbidden(`Attribute '${key}' can be only replaced for a queued image.`);
      }
    }
    this.checkValues(next);
    for (const key of this.required) {
      if (!(key in next.properties)) throw badRequest(`Property '${key}' is required by this deployment's image schema and cannot be removed.`);
    }
    this.checkQuotas(next, image);
    // Removed locations take their data with them (as in Glance), once the record has changed.
    const dropped = this.d.locations.dropped(image, next);
    await this.d.data.assertDeletable(ctx, image.id, dropped, 'data');
    const fromStatus = next.status !== image.status ? image.status : undefined;
    const updated = await this.repo.update(image.id, diff(image, next), fromStatus, this.childQuotas());
    await this.d.data.dropped(ctx, image.id, dropped);
    if (updated.visibility !== image.visibility) await this.d.data.sharingChanged(ctx, updated);
    this.d.notify.emit('image.update', imagePayload(updated));
    return updated;
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'delete_image', target);
    if (image.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    await this.d.data.assertDeletable(ctx, image.id, image.locations, 'image');
    const locations = await this.repo.remove(image.id);
    this.d.notify.emit('image.delete', deletedPayload(imagePayload({ ...image, status: 'deleted' })));
    await this.d.data.removed(ctx, { ...image, locations });
  }

  async addTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'modify_image', target);
    assertTag(tag);
    if (image.tags.includes(tag)) return;
    if (this.limits.imageTagQuota >= 0 && image.tags.length + 1 > this.limits.imageTagQuota) {
      throw tagLimit(image.tags.length + 1, this.limits.imageTagQuota);
    }
    this.d.notify.emit('image.update', imagePayload(await this.repo.update(image.id, { addTags: [tag] }, undefined, this.childQuotas())));
  }

  async removeTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, 'modify_image', target);
    if (!image.tags.includes(tag)) throw notFound(`Tag ${tag} not found on image ${id}.`);
    this.d.notify.emit('image.update', imagePayload(await this.repo.update(image.id, { removeTags: [tag] })));
  }

  /** Resolves with whether this call changed the status (false: it already was deactivated). */
  deactivate(ctx: RequestContext, id: string): Promise<boolean> {
    return this.toggle(ctx, id, 'deactivate', 'active', 'deactivated');
  }

  reactivate(ctx: RequestContext, id: string): Promise<boolean> {
    return this.toggle(ctx, id, 'reactivate', 'deactivated', 'active');
  }

  /**
   * A list marker: only its sort columns are needed, and only that the caller
   * can see it (Glance checks a marker's visibility, not get_image policy).
   */
  private async marker(ctx: RequestContext, id: string): Promise<Image> {
    const image = id.length <= 36 ? await this.repo.getRecord(id) : null;
    if (image && (await this.access.isVisible(ctx, image))) return image;
    throw badRequest(`Invalid marker: image ${id} could not be found.`);
  }

  private checkProtections(ctx: RequestContext, before: Image, after: Image): void {
    if (!this.protections) return;
    for (const [key, value] of Object.entries(after.properties)) {
      if (!hasKey(before.properties, key)) this.protections.enforce(ctx, key, 'create');
      else if (before.properties[key] !== value) this.protections.enforce(ctx, key, 'update');
    }
    for (const key of Object.keys(before.properties)) {
      if (!hasKey(after.properties, key)) this.protections.enforce(ctx, key, 'delete');
    }
  }

  private async toggle(
    ctx: RequestContext,
    id: string,
    action: 'deactivate' | 'reactivate',
    from: 'active' | 'deactivated',
    to: 'active' | 'deactivated',
  ): Promise<boolean> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, id);
    this.access.authorize(ctx, action, target);
    if (image.status === to) return false;
    if (image.status !== from) throw forbidden(`Not allowed to ${action} image in status '${image.status}'`);
    const updated = await this.repo.update(image.id, { fields: { status: to } }, from);
    if (to === 'deactivated') await this.d.data.deactivated(image.id);
    this.d.notify.emit('image.update', imagePayload(updated));
    return true;
  }

  private applyOp(image: Image, op: PatchOp, dialect: PatchDialect): void {
    const root = op.path[0];
    if (isReadOnly(root) || root === 'id') throw forbidden(`Attribute '${root}' is read-only.`);
    if (isReserved(root)) throw forbidden(`Attribute '${root}' is reserved.`);
    if (op.path.length !== 1) throw badRequest('Invalid JSON pointer for this resource: ' + `/${op.path.join('/')}`);
    const base = isBaseAttribute(root);
    const exists = base || hasKey(image.properties, root);
    if (op.op === 'remove') {
      if (base) throw forbidden(`Attribute '${root}' may not be removed.`);
      if (!exists) throw conflict(`Property ${root} does not exist.`);
      delete image.properties[root];
      return;
    }
    if (op.op === 'replace' && !exists) throw conflict(`Property ${root} does not exist.`);
    if (op.op === 'add' && dialect === 'v2.0' && exists) throw conflict(`Property ${root} already present.`);
    this.validator.validate({ [root]: op.value });
    if (base) {
      (image as unknown as Record<string, unknown>)[root] = root === 'tags' ? [...new Set(op.value as string[])] : op.value;
    } else {
      image.properties[root] = this.propertyValue(root, op.value);
    }
  }

  /** Extra properties are stored as text: strings as they are, other declared types as JSON text. */
  private propertyValue(key: string, value: unknown): string {
    if (key.length > MAX_STRING_LENGTH) throw badRequest(`Property name '${key.slice(0, 40)}…' is longer than ${MAX_STRING_LENGTH} characters.`);
    assertNo4ByteChars(key, 'Property name');
    const text = value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    assertNo4ByteChars(text, `Property '${key}'`);
    if (Buffer.byteLength(text) > MAX_PROPERTY_VALUE_BYTES) {
      throw badRequest(`Property '${key}' is longer than ${MAX_PROPERTY_VALUE_BYTES} bytes of UTF-8.`);
    }
    return text;
  }

  private checkValues(image: Image): void {
    for (const key of ['min_ram', 'min_disk'] as const) {
      if (image[key] < 0 || image[key] > MAX_INT32) throw badRequest(`'${key}' must be between 0 and ${MAX_INT32}.`);
    }
    if (image.name !== null) assertNo4ByteChars(image.name, 'Image name');
    for (const tag of image.tags) assertTag(tag);
  }

  private checkVisibilityChange(ctx: RequestContext, image: Image): void {
    const target = imageTarget(image, null);
    if (image.visibility === 'public') {
      this.access.authorize(ctx, 'publicize_image', target, 'You are not authorized to set image visibility to public.');
    }
    if (image.visibility === 'community') {
      this.access.authorize(ctx, 'communitize_image', target, 'You are not authorized to set image visibility to community.');
    }
  }

  private childQuotas(): ChildQuotas {
    return { properties: this.limits.imagePropertyQuota, tags: this.limits.imageTagQuota };
  }

  /**
   * Only growth is refused, so an image already over a lowered quota can
   * still shrink. A first check on what was loaded; the repository checks
   * again on what is stored, under the image's lock.
   */
  private checkQuotas(next: Image, before?: Image): void {
    const { imagePropertyQuota: maxProps, imageTagQuota: maxTags } = this.limits;
    const props = countedProperties(next.properties);
    if (maxProps >= 0 && props > maxProps && props > (before ? countedProperties(before.properties) : 0)) {
      throw tooLarge(
        `The limit has been exceeded on the number of allowed image properties. Attempted: ${props}, Maximum: ${maxProps}`,
      );
    }
    if (maxTags >= 0 && next.tags.length > maxTags && next.tags.length > (before?.tags.length ?? 0)) {
      throw tagLimit(next.tags.length, maxTags);
    }
  }
}

function tagLimit(attempted: number, maximum: number) {
  return tooLarge(`The limit has been exceeded on the number of allowed image tags. Attempted: ${attempted}, Maximum: ${maximum}`);
}

/** Listed shared images of another project reached the caller through a membership. */
function listedTarget(ctx: RequestContext, image: Image): Record<string, unknown> {
  const viaMembership = image.visibility === 'shared' && image.owner !== ctx.projectId;
  return imageTarget(image, viaMembership ? ctx.projectId : null);
}

/** A deep copy to edit: properties stay a prototype-free map (structuredClone would not keep that). */
function cloneImage(image: Image): Image {
  return {
    ...image,
    properties: dict(Object.entries(image.properties)),
    tags: [...image.tags],
    locations: image.locations.map((l) => ({ url: l.url, metadata: { ...l.metadata } })),
  };
}

/** Fields a PATCH changes: the writable ones, and those a location sets on a queued image (status, size, validation data). */
const PATCHED_FIELDS = [
  'name', 'visibility', 'protected', 'os_hidden', 'owner', 'container_format', 'disk_format', 'min_ram', 'min_disk',
  'status', 'size', 'checksum', 'os_hash_algo', 'os_hash_value',
] as const;

function diff(before: Image, after: Image): ImageChange {
  const fields: Record<string, unknown> = {};
  for (const key of PATCHED_FIELDS) {
    if (after[key] !== before[key]) fields[key] = after[key];
  }
  const sameLocations = JSON.stringify(after.locations) === JSON.stringify(before.locations);
  const setProperties = dict<string>();
  for (const [k, v] of Object.entries(after.properties)) if (!hasKey(before.properties, k) || before.properties[k] !== v) setProperties[k] = v;
  return {
    fields: fields as ImageChange['fields'],
    setProperties,
    removeProperties: Object.keys(before.properties).filter((k) => !hasKey(after.properties, k)),
    addTags: after.tags.filter((t) => !before.tags.includes(t)),
    removeTags: before.tags.filter((t) => !after.tags.includes(t)),
    ...(sameLocations ? {} : { setLocations: after.locations }),
  };
}
