/**
 * What a format probe is: a generator that asks for byte ranges of the
 * stream (forward only, like the stream itself) and records what it finds.
 * The inspector (`inspector.ts`) feeds every probe the same chunks once; a
 * probe never sees the whole image and keeps at most the ranges it asked for.
 */

/** Formats the inspector can recognise. `gpt` is Glance's name for any MBR/GPT-partitioned raw disk. */
export type InspectedFormat = 'qcow2' | 'qed' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'iso' | 'gpt' | 'luks' | 'ploop';

/** A range the probe wants; `offset: END` asks for the last `length` bytes once the stream has ended. */
export interface ReadRequest {
  offset: number;
  length: number;
}
export const END = -1;
/** The largest range a probe may ask for at once: memory stays bounded whatever the image. */
export const MAX_READ = 1024 * 1024;
/** The inspector keeps the stream's last bytes this long for `END` reads (a VMDK footer is 3 sectors). */
export const TAIL_BYTES = 1536;

export interface SafetyFailure {
  /** Glance's check name where Glance has one (backing_file, data_file, descriptor …). */
  check: string;
  message: string;
}

/** What a probe knows so far; the inspector reads it when the probe has finished or the stream ended. */
export class ProbeState {
  /** The bytes carry this format's signature (from here on, any surprise is a failure, not a mismatch). */
  matched = false;
  /** The guest disk size in bytes; null for formats whose size is the byte count (gpt, luks before the end). */
  virtualSize: number | null = null;
  readonly failures: SafetyFailure[] = [];
  /** Ranges the format's own structures point at; each must lie inside the stream. */
  readonly within: { offset: number; length: number; what: string }[] = [];
  /** The stream's length, known once it has ended (for `END` reads). */
  total: number | null = null;

  fail(check: string, message: string): void {
    this.failures.push({ check, message });
  }

  /** Records that `what` occupies [offset, offset + length): a shorter stream is a truncated image. */
  mustContain(offset: number, length: number, what: string): void {
    if (length > 0) this.within.push({ offset, length, what });
  }
}

/** Options the operator sets in `[image_format]`. */
export interface ProbeOptions {
  vmdkAllowedTypes: readonly string[];
}

export type ProbeRun = Generator<ReadRequest, void, Buffer>;

export interface Probe {
  readonly format: InspectedFormat;
  run(state: ProbeState, options: ProbeOptions): ProbeRun;
}

/** Thrown inside a probe when the bytes contradict the format; after a match it becomes a `header` failure. */
export class StructureError extends Error {}

export const read = (offset: number, length: number): ReadRequest => ({ offset, length: Math.min(length, MAX_READ) });

export function startsWith(buf: Buffer, magic: Buffer, at = 0): boolean {
  return buf.length >= at + magic.length && buf.subarray(at, at + magic.length).equals(magic);
}

/** A u64 as a JS number, or Infinity when it cannot be one exactly (callers treat that as too big). */
export function u64(buf: Buffer, at: number, littleEndian: boolean): number {
  const v = littleEndian ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

/** Printable text for messages: names inside images are the uploader's, but control bytes stay out of responses. */
export function printable(bytes: Buffer | string, max = 200): string {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export const isPowerOfTwo = (n: number) => n > 0 && Number.isInteger(Math.log2(n));

/** Thrown inside a probe when the stream ended before a structure it needs: a `truncated` failure. */
export class Truncated extends Error {}

/** Fails the probe as truncated unless `buf` holds at least `n` bytes. */
export function need(buf: Buffer, n: number, what: string): void {
  if (buf.length < n) throw new Truncated(`the image ends inside its ${what}`);
}
