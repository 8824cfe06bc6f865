/** Images as Glance renders them on the wire (shared/spec/images-api.md §2.1). */
import { dict, hasKey } from '../domain/dict.js';
import { HIDDEN_PROPERTIES, type Image, type ImageLocation } from '../domain/image.js';

export interface WireOptions {
  showMultipleLocations: boolean;
  showImageDirectUrl: boolean;
  multiStore: boolean;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * `YYYY-MM-DDThh:mm:ssZ`, no fraction, as Glance prints timestamps. Built from
 * the UTC fields: a page of 1,000 images prints 2,000 of them, and this is
 * about 4x cheaper than cutting toISOString().
 */
export function isoSeconds(d: Date): string {
  const year = d.getUTCFullYear();
  if (year < 1000 || year > 9999) return `${d.toISOString().slice(0, 19)}Z`;
  return `${year}-${TWO_DIGITS[d.getUTCMonth() + 1]}-${TWO_DIGITS[d.getUTCDate()]}T${TWO_DIGITS[d.getUTCHours()]}:${TWO_DIGITS[d.getUTCMinutes()]}:${TWO_DIGITS[d.getUTCSeconds()]}Z`;
}

/** `locations` are those the caller may see (ImageAccess.visibleLocations). */
export function imageToWire(image: Image, locations: ImageLocation[], o: WireOptions): Record<string, unknown> {
  const out = dict<unknown>();
  Object.assign(out, {
    id: image.id,
    name: image.name,
    status: image.status,
    visibility: image.visibility,
    protected: image.protected,
    os_hidden: image.os_hidden,
    checksum: image.checksum,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    owner: image.owner,
    size: image.size,
    virtual_size: image.virtual_size,
    container_format: image.container_format,
    disk_format: image.disk_format,
    min_ram: image.min_ram,
    min_disk: image.min_disk,
    created_at: isoSeconds(image.created_at),
    updated_at: isoSeconds(image.updated_at),
    tags: image.tags,
  });
  for (const [key, value] of Object.entries(image.properties)) {
    if (!HIDDEN_PROPERTIES.has(key) && !hasKey(out, key)) out[key] = value;
  }
  if (o.showMultipleLocations) out.locations = locations.map(({ url, metadata }) => ({ url, metadata }));
  if (o.showImageDirectUrl && locations.length > 0) out.direct_url = locations[0].url;
  if (o.multiStore) {
    const stores = locations.map((l) => l.metadata.store).filter((s): s is string => typeof s === 'string');
    if (stores.length) out.stores = stores.join(',');
  }
  out.self = `/v2/images/${image.id}`;
  out.file = `/v2/images/${image.id}/file`;
  out.schema = '/v2/schemas/image';
  return out;
}
