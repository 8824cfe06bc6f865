/**
 * Glance's two JSON-patch dialects for `PATCH /v2/images/{id}`: the RFC 6902
 * subset (v2.1 media type) and the draft-4 style `{"add": "/x"}` (v2.0).
 */
import { badRequest, unsupportedMediaType } from '../domain/errors.js';

export const PATCH_V21 = 'application/openstack-images-v2.1-json-patch';
export const PATCH_V20 = 'application/openstack-images-v2.0-json-patch';

export type PatchOpName = 'add' | 'remove' | 'replace';
export interface PatchOp {
  op: PatchOpName;
  /** The decoded JSON-pointer segments. */
  path: string[];
  value?: unknown;
}
export type PatchDialect = 'v2.0' | 'v2.1';

const OPS: PatchOpName[] = ['add', 'remove', 'replace'];

export function patchDialect(contentType: string | undefined): PatchDialect {
  const media = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  if (media === PATCH_V21) return 'v2.1';
  if (media === PATCH_V20) return 'v2.0';
  throw unsupportedMediaType(
    `Unsupported media type "${media}" for image PATCH: use ${PATCH_V21} or ${PATCH_V20}.`,
    { 'accept-patch': `${PATCH_V20}, ${PATCH_V21}` },
  );
}

export function parsePatch(body: unknown, dialect: PatchDialect): PatchOp[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw badRequest('Operations must be JSON objects.');
    }
    const obj = raw as Record<string, unknown>;
    const { op, pointer } = dialect === 'v2.1' ? opV21(obj) : opV20(obj);
    const path = parsePointer(pointer);
    if (op !== 'remove' && !('value' in obj)) throw badRequest(`Operation "${op}" requires a member named "value".`);
    return op === 'remove' ? { op, path } : { op, path, value: obj.value };
  });
}

function opV21(obj: Record<string, unknown>): { op: PatchOpName; pointer: unknown } {
  if (!('op' in obj)) throw badRequest('Operation objects must contain a member named "op".');
  if (!OPS.includes(obj.op as PatchOpName)) {
    throw badRequest(`Invalid operation: "${String(obj.op)}"; it must be one of ${OPS.join(', ')}.`);
  }
  if (!('path' in obj)) throw badRequest('Unable to find \'path\' in JSON Schema change');
  return { op: obj.op as PatchOpName, pointer: obj.path };
}

function opV20(obj: Record<string, unknown>): { op: PatchOpName; pointer: unknown } {
  const present = OPS.filter((op) => op in obj);
  if (present.length !== 1) {
    throw badRequest(`Operation objects must contain exactly one member named "add", "remove", or "replace".`);
  }
  return { op: present[0], pointer: obj[present[0]] };
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || !pointer.startsWith('/')) {
    throw badRequest(`Pointer \`${String(pointer)}\` does not start with "/".`);
  }
  if (pointer.endsWith('/')) throw badRequest(`Pointer \`${pointer}\` ends with "/".`);
  const segments = pointer.slice(1).split('/');
  return segments.map((s) => {
    if (s === '') throw badRequest(`Pointer \`${pointer}\` contains adjacent "/".`);
    if (/~(?![01])/.test(s)) throw badRequest(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
    return s.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}
