/**
 * Request bodies as Glance reads them (JSON whatever the Content-Type says),
 * with the checks that keep bad input away from the database: the bytes must
 * be valid UTF-8, nesting is bounded, and no string may hold what Glance's
 * tables cannot store (NUL, lone surrogates, 4-byte UTF-8 characters, which
 * MySQL's utf8mb3 refuses). A refused body is a 400 before anything is read
 * into the database.
 */
import { badRequest } from '../domain/errors.js';

/** Deeper than any image, member, task or metadefs document: a bound, not a format rule. */
export const MAX_JSON_DEPTH = 64;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw badRequest('Malformed JSON in request body: it is not valid UTF-8.');
  }
  if (text.trim() === '') return undefined;
  assertDepth(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('Malformed JSON in request body.');
  }
  if (parsed === null || typeof parsed !== 'object') throw badRequest('Expected a JSON object or array in the request body.');
  assertStorableStrings(parsed);
  return parsed;
}

/** Counts brackets outside strings: refuses before JSON.parse builds a deep structure. */
function assertDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) throw badRequest(`JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

function assertStorableStrings(value: unknown): void {
  if (typeof value === 'string') return assertStorable(value, 'a string');
  if (Array.isArray(value)) {
    for (const item of value) assertStorableStrings(item);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      assertStorable(key, 'a key');
      assertStorableStrings(item);
    }
  }
}

/** NUL, and any UTF-16 surrogate: paired ones are 4-byte UTF-8 characters, lone ones are not characters at all. */
const UNSTORABLE = /[\u0000\ud800-\udfff]/;

export function assertStorable(text: string, what: string): void {
  const m = UNSTORABLE.exec(text);
  if (!m) return;
  if (m[0] === '\u0000') throw badRequest(`JSON body: ${what} contains a NUL character, which cannot be stored.`);
  const code = m[0].charCodeAt(0);
  const next = text.charCodeAt(m.index + 1);
  const paired = code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
  if (paired) throw badRequest(`JSON body: ${what} contains 4-byte UTF-8 characters, which are not supported.`);
  throw badRequest(`JSON body: ${what} contains an unpaired UTF-16 surrogate, which is not a character.`);
}
