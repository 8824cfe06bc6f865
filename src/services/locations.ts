/**
 * Image locations as Glance lets clients change them: JSON-patch `add`,
 * `replace` and `remove` on `/locations` (with `show_multiple_locations`),
 * and the v2.17 location API (`POST` by the owner or a service, `GET` for
 * services). A new URL is accepted only where a configured store owns it and
 * can size it (data is there), never with a scheme Glance keeps internal
 * (file paths, swift+config references): a location is a way to read data,
 * so it must not become a way to read this host's files or probe its network.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { RequestContext } from '../auth/context.js';
import type { ImagesRepository } from '../db/images-repo.js';
import { badRequest, conflict, forbidden, tooLarge } from '../domain/errors.js';
import type { Image, ImageLocation } from '../domain/image.js';
import { HashingCounter } from '../store/ingest.js';
import type { StoreSet } from '../store/stores.js';
import { callerOf } from './data-sharing.js';
import type { ImageAccess, PolicyTarget } from './image-access.js';
import type { PatchOp } from './image-patch.js';

/** Schemes glance_store refuses as external locations: they name this host's files or the operator's credentials. */
const RESTRICTED_SCHEMES = ['file', 'filesystem', 'swift+config', 'sheepdog', 'cinder'];
const MAX_URL_LENGTH = 255;
/** How deep a /locations pointer goes, per operation (Glance's _path_depth_limits). */
const POINTER_DEPTH = { add: 2, remove: 2, replace: 1 } as const;
const DIGEST_BYTES: Record<string, number> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

export interface LocationLimits {
  showMultipleLocations: boolean;
  /** image_location_quota (negative: unlimited). */
  imageLocationQuota: number;
  hashingAlgorithm: string;
}

export interface LocationsDeps {
  repo: ImagesRepository;
  access: ImageAccess;
  stores: StoreSet;
  limits: LocationLimits;
  log: Pick<Logger, 'warn'>;
}

interface ValidationData {
  checksum?: string;
  os_hash_algo?: string;
  os_hash_value?: string;
}

export class LocationsService {
  constructor(private readonly d: LocationsDeps) {}

  /** One `/locations` operation of a PATCH, applied to `next` (the image being edited). */
  async patch(ctx: RequestContext, next: Image, op: PatchOp, target: PolicyTarget): Promise<void> {
    if (op.path.length !== POINTER_DEPTH[op.op]) throw badRequest(`Invalid JSON pointer for this resource: '/${op.path.join('/')}'`);
    const verb = op.op === 'replace' ? 'update' : op.op;
    if (op.op === 'remove') this.d.access.authorize(ctx, 'delete_image_location', target);
    else this.d.access.authorize(ctx, 'set_image_location', target);
    if (!this.d.limits.showMultipleLocations) throw forbidden(`It's not allowed to ${verb} locations if locations are invisible.`);
    if (op.op === 'add') await this.add(ctx, next, op.path[1], op.value);
    else if (op.op === 'replace') await this.replace(ctx, next, op.value);
    else this.remove(next, op.path[1]);
  }

  /** What a PATCH dropped, for its data to be removed from the stores (after the record changed). */
  dropped(before: Image, after: Image): ImageLocation[] {
    const kept = new Set(after.locations.map((l) => l.url));
    return before.locations.filter((l) => !kept.has(l.url));
  }

  /**
   * `POST /v2/images/{id}/locations` (v2.17): the location is checked and
   * recorded now; with validation data the image waits in `importing` while
   * its data is hashed and compared, else it turns active at once and its
   * hashes follow. Answers nothing (202).
   */
  async addByApi(ctx: RequestContext, id: string, body: unknown): Promise<void> {
    const { image, target } = await this.d.access.load(ctx, id);
    if (image.status !== 'queued') throw conflict(`It's not allowed to add locations if image status is ${image.status}.`);
    this.d.access.authorize(ctx, 'add_image_location', target);
    const { url, validation_data: validation = {} } = parseAddBody(body);
    if (!ctx.roles.includes('service') && this.d.stores.httpStore()?.owns(url) !== true) {
      throw forbidden('http store must be enabled to use location API by normal user.');
    }
    const hashes = this.hashingData(validation);
    if (image.properties.os_glance_import_task) throw conflict(`New operation on image '${id}' is not permitted as prior operation is still in progress`);
    const { location, size } = await this.checked(ctx, { url, metadata: {} }, image.locations);
    const verify = hashes.os_hash_value !== undefined;
    const added = await this.d.repo.update(
      image.id,
      { fields: { status: verify ? 'importing' : 'active', size: image.size ?? size }, addLocations: [location] },
      'queued',
    );
    void this.hashData(ctx, added, location, verify ? hashes : null);
  }

  /** `GET /v2/images/{id}/locations` (v2.17, services only). */
  async list(ctx: RequestContext, id: string): Promise<ImageLocation[]> {
    const { image, target } = await this.d.access.load(ctx, id);
    this.d.access.authorize(ctx, 'fetch_image_location', target);
    return image.locations.map(({ url, metadata }) => ({ url, metadata }));
  }

  private async add(ctx: RequestContext, next: Image, position: string, value: unknown): Promise<void> {
    if (next.status !== 'active' && next.status !== 'queued') throw conflict(`It's not allowed to add locations if image status is ${next.status}.`);
    const raw = parseLocation(value);
    const at = positionOf(position, next.locations.length, true);
    if (at === null) throw badRequest('Invalid position for adding a location.');
    this.assertQuota(next.locations.length + 1);
    const validation = this.validationData(next, [raw]);
    const { location, size } = await this.checked(ctx, raw, next.locations);
    next.locations.splice(at, 0, location);
    next.size ??= size;
    this.activate(next, validation);
  }

  private async replace(ctx: RequestContext, next: Image, value: unknown): Promise<void> {
    if (!Array.isArray(value) || value.length === 0) {
      if (Array.isArray(value)) throw forbidden('Cannot set locations to empty list.');
      throw badRequest('Invalid locations: a list of locations is expected.');
    }
    if (next.status !== 'active' && next.status !== 'queued') throw conflict(`It's not allowed to replace locations if image status is ${next.status}.`);
    const raws = value.map(parseLocation);
    this.assertQuota(raws.length);
    const validation = this.validationData(next, raws);
    const sameUrls = sorted(raws.map((l) => l.url)).join('\n') === sorted(next.locations.map((l) => l.url)).join('\n');
    if (!sameUrls && next.locations.length > 0) throw badRequest(`Original locations is not empty: ${next.locations.map((l) => l.url).join(', ')}`);
    const locations: ImageLocation[] = [];
    for (const raw of raws) {
      if (sameUrls) {
        locations.push({ url: raw.url, metadata: raw.metadata });
        continue;
      }
      const { location, size } = await this.checked(ctx, raw, locations);
      locations.push(location);
      next.size ??= size;
    }
    next.locations = locations;
    this.activate(next, validation);
  }

  private remove(next: Image, position: string): void {
    if (next.status !== 'active') throw conflict(`It's not allowed to remove locations if image status is ${next.status}.`);
    if (next.locations.length === 1) throw forbidden('Cannot remove last location in the image.');
    const at = positionOf(position, next.locations.length, false);
    if (at === null) throw badRequest('Invalid position for removing a location.');
    next.locations.splice(at, 1);
  }

  /**
   * A new location, as glance_store would accept it: a store of this
   * deployment owns the URL (in multi-store mode the store it names, else
   * the one recorded), its scheme is not internal, and it holds data.
   */
  private async checked(ctx: RequestContext, raw: ImageLocation, existing: ImageLocation[]): Promise<{ location: ImageLocation; size: number }> {
    const scheme = raw.url.split(':', 1)[0].toLowerCase();
    const store = RESTRICTED_SCHEMES.includes(scheme) ? undefined : this.d.stores.forLocation(raw);
    const size = store?.size ? await store.size(raw.url, callerOf(ctx)).catch(() => 0) : 0;
    if (!store || !(size > 0)) throw badRequest('Invalid location');
    const metadata = { ...raw.metadata, ...this.d.stores.metadataFor(store) };
    if (existing.some((l) => l.url === raw.url && JSON.stringify(l.metadata) === JSON.stringify(metadata))) {
      throw badRequest(`The location ${raw.url} already exists`);
    }
    return { location: { url: raw.url, metadata }, size };
  }

  /** A location added to a queued image makes it active, with the validation data given. */
  private activate(next: Image, validation: ValidationData): void {
    if (next.status !== 'queued') return;
    Object.assign(next, validation);
    next.status = 'active';
  }

  private assertQuota(count: number): void {
    const maximum = this.d.limits.imageLocationQuota;
    if (maximum >= 0 && count > maximum) {
      throw tooLarge(`The limit has been exceeded on the number of allowed image locations. Attempted: ${count}, Maximum: ${maximum}`);
    }
  }

  /** The `validation_data` of PATCHed locations: consistent, matching what is set, new values only on queued images (409s as Glance). */
  private validationData(image: Image, locations: (ImageLocation & { validation?: ValidationData })[]): ValidationData {
    const given: Record<string, string> = {};
    for (const location of locations) {
      for (const [key, value] of Object.entries(location.validation ?? {})) {
        if (given[key] !== undefined && given[key] !== value) throw conflict(`Conflicting values for ${key}`);
        given[key] = value as string;
      }
    }
    const fresh: Record<string, string> = {};
    for (const [key, value] of Object.entries(given)) {
      const current = image[key as keyof ValidationData];
      if (current === value) continue;
      if (current) throw conflict(`${key} is already set with a different value`);
      fresh[key] = value;
    }
    if (Object.keys(fresh).length === 0) return {};
    if (image.status !== 'queued') throw conflict(`New value(s) for ${Object.keys(fresh).join(', ')} may only be provided when image status is 'queued'`);
    if (fresh.checksum !== undefined && !isHexOfLength(fresh.checksum, 16)) throw conflict(`checksum (${fresh.checksum}) is not a valid md5 digest`);
    if (fresh.os_hash_algo !== this.d.limits.hashingAlgorithm) throw conflict(`os_hash_algo must be ${this.d.limits.hashingAlgorithm}, not ${fresh.os_hash_algo ?? 'None'}`);
    if (!isHexOfLength(fresh.os_hash_value ?? '', DIGEST_BYTES[fresh.os_hash_algo] ?? 0)) {
      throw conflict(`os_hash_value (${fresh.os_hash_value}) is not the correct size for ${fresh.os_hash_algo}`);
    }
    return fresh;
  }

  /** The v2.17 `validation_data`: an os_hash_value of the right size for its algorithm (400 otherwise). */
  private hashingData(validation: ValidationData): ValidationData {
    if (validation.os_hash_value === undefined) return validation;
    const algorithm = validation.os_hash_algo ?? this.d.limits.hashingAlgorithm;
    if (!/^([0-9a-f]{2})*$/i.test(validation.os_hash_value)) throw badRequest(`os_hash_value (${validation.os_hash_value}) is not a valid hexadecimal value`);
    if (!isHexOfLength(validation.os_hash_value, DIGEST_BYTES[algorithm] ?? -1)) {
      throw badRequest(`os_hash_value: (${validation.os_hash_value}) is not the correct size for (${algorithm}) (should be (${DIGEST_BYTES[algorithm]}) bytes)`);
    }
    return { ...validation, os_hash_algo: algorithm };
  }

  /**
   * Reads the new location's data once to record its checksum and
   * os_hash_value (Glance's do_secure_hash). With validation data, a
   * mismatch or an unreadable location puts the image back to `queued`
   * without the location; otherwise the image stays active and only its
   * hashes are missing.
   */
  private async hashData(ctx: RequestContext, image: Image, location: ImageLocation, expected: ValidationData | null): Promise<void> {
    const algorithm = expected?.os_hash_algo ?? this.d.limits.hashingAlgorithm;
    try {
      const store = this.d.stores.forLocation(location)!;
      const counter = new HashingCounter(algorithm, Number.MAX_SAFE_INTEGER, '', image.size);
      await pipeline(await store.get(location.url, undefined, callerOf(ctx)), counter, new Writable({ write: (_c, _e, done) => done() }));
      const digests = await counter.result();
      if (expected && digests.os_hash_value !== expected.os_hash_value) {
        throw new Error(`os_hash_value: (${expected.os_hash_value}) not matched with actual os_hash_value: (${digests.os_hash_value})`);
      }
      await this.d.repo.update(image.id, { fields: { ...digests, ...(expected ? { status: 'active' } : {}) } }, expected ? 'importing' : 'active');
    } catch (err) {
      this.d.log.warn({ err, image: image.id, location: location.url }, 'hashing the data of an added location failed');
      if (!expected) return;
      await this.d.repo
        .update(image.id, { fields: { status: 'queued', checksum: null, os_hash_algo: null, os_hash_value: null, size: null }, removeLocations: [location.url] }, 'importing')
        .catch((e: unknown) => this.d.log.warn({ err: e, image: image.id }, 'could not put the image back to queued'));
    }
  }
}

/** `{url, metadata, validation_data?}` as Glance's location schema has it. */
function parseLocation(value: unknown): ImageLocation & { validation?: ValidationData } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('Invalid location: a location is an object with url and metadata.');
  const { url, metadata, validation_data: validation, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw badRequest(`Invalid location: unexpected ${Object.keys(rest).join(', ')}`);
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH) throw badRequest(`Invalid location: url must be a string of 1 to ${MAX_URL_LENGTH} characters.`);
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw badRequest('Invalid location: metadata must be an object.');
  return { url, metadata: metadata as Record<string, unknown>, validation: parseValidation(validation) };
}

function parseValidation(value: unknown): ValidationData | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('Invalid validation_data: an object is expected.');
  const out: ValidationData = {};
  for (const [key, v] of Object.entries(value)) {
    if (key !== 'checksum' && key !== 'os_hash_algo' && key !== 'os_hash_value') throw badRequest(`Invalid validation_data: unexpected ${key}`);
    if (typeof v !== 'string') throw badRequest(`Invalid validation_data: ${key} must be a string.`);
    out[key] = v;
  }
  if ((out.os_hash_algo === undefined) !== (out.os_hash_value === undefined)) throw badRequest('Invalid validation_data: os_hash_algo and os_hash_value go together.');
  return out;
}

function parseAddBody(body: unknown): { url: string; validation_data?: ValidationData } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  const { url, validation_data: validation, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw badRequest(`Additional properties are not allowed (${Object.keys(rest).join(', ')} unexpected)`);
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH) throw badRequest(`url must be a string of 1 to ${MAX_URL_LENGTH} characters.`);
  if (validation === undefined) return { url };
  if (!validation || typeof validation !== 'object' || Array.isArray(validation)) throw badRequest('validation_data must be an object.');
  const { os_hash_algo: algorithm, os_hash_value: value, ...extra } = validation as Record<string, unknown>;
  if (Object.keys(extra).length > 0) throw badRequest(`validation_data: ${Object.keys(extra).join(', ')} unexpected`);
  if (value !== undefined && typeof value !== 'string') throw badRequest('validation_data.os_hash_value must be a string.');
  if (algorithm !== undefined && (typeof algorithm !== 'string' || !(algorithm in DIGEST_BYTES))) throw badRequest(`validation_data.os_hash_algo must be one of ${Object.keys(DIGEST_BYTES).join(', ')}.`);
  return { url, validation_data: { os_hash_algo: algorithm as string | undefined, os_hash_value: value as string | undefined } };
}

/** A pointer's position: an index, or `-` (the end for add, the last for remove). */
function positionOf(segment: string, length: number, forAdd: boolean): number | null {
  const at = segment === '-' ? (forAdd ? length : length - 1) : /^\d+$/.test(segment) ? Number(segment) : null;
  if (at === null) return null;
  // Past the end, an add appends (as a list insert does); a remove needs an existing entry.
  return forAdd ? Math.min(at, length) : at < length ? at : null;
}

function isHexOfLength(value: string, bytes: number): boolean {
  return value.length === bytes * 2 && /^[0-9a-f]*$/i.test(value);
}

const sorted = (values: string[]) => [...values].sort();
