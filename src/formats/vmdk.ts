/**
 * VMDK in its three shapes: a hosted sparse extent ("KDMV": monolithicSparse,
 * streamOptimized) with an embedded descriptor; a text descriptor file whose
 * extents are other files (any path, /etc/passwd included: always refused);
 * and the legacy COWD sparse format (refused). Only self-contained create
 * types that are also in `vmdk_allowed_types` pass.
 *
 * Text descriptors are recognised the way qemu probes them (first real line
 * `version=N`) as well as the way Glance does (text with a createType), and
 * parsed whole, up to qemu's 1 MiB limit.
 */
import { END, type Probe, type ProbeOptions, type ProbeRun, type ProbeState, StructureError, need, printable, read, startsWith, u64 } from './probe.js';

const KDMV = Buffer.from('KDMV', 'latin1');
const COWD = Buffer.from('COWD', 'latin1');
const HEAD = 64 * 1024;
const DESCRIPTOR_MAX = 1024 * 1024 - 1;
const SELF_CONTAINED = ['monolithicsparse', 'streamoptimized'];
const GD_AT_END = Infinity; // u64 0xFFFFFFFFFFFFFFFF, which u64() reports as Infinity
const MAX_GTES = 512;
const MAX_L1_ENTRIES = 512 * 1024 * 1024;
const MARKER_FOOTER = 3;

export const vmdk: Probe = {
  format: 'vmdk',
  *run(s: ProbeState, options: ProbeOptions) {
    const h = yield read(0, HEAD);
    if (startsWith(h, KDMV)) yield* sparse(s, h, options);
    else if (startsWith(h, COWD)) {
      s.matched = true;
      if (h.length >= 16) s.virtualSize = h.readUInt32LE(12) * 512;
      s.fail('descriptor', 'COWD (VMDK3) sparse images are not supported');
    } else if (qemuProbesAsDescriptor(h) || looksLikeGlanceDescriptor(h)) {
      s.matched = true;
      const rest = h.length === HEAD ? yield read(HEAD, DESCRIPTOR_MAX - HEAD) : Buffer.alloc(0);
      textDescriptor(s, Buffer.concat([h, rest]));
    }
  },
};

function* sparse(s: ProbeState, h: Buffer, options: ProbeOptions): ProbeRun {
  s.matched = true;
  need(h, 512, 'VMDK header');
  const version = h.readUInt32LE(4);
  if (version < 1 || version > 3) throw new StructureError(`Unsupported VMDK format version ${version}`);
  const capacity = u64(h, 12, true);
  const grain = u64(h, 20, true);
  const descOffset = u64(h, 28, true);
  const descSize = u64(h, 36, true);
  const gtes = h.readUInt32LE(44);
  const gd = u64(h, 56, true);
  const grainOffset = u64(h, 64, true);
  s.virtualSize = capacity * 512;
  if (!Number.isSafeInteger(s.virtualSize)) s.fail('virtual_size', 'VMDK capacity is beyond what qemu opens');
  if (gtes < 1 || gtes > MAX_GTES) throw new StructureError(`VMDK grain table size ${gtes} is invalid`);
  if (grain < 1 || !Number.isSafeInteger(grain * gtes)) throw new StructureError(`VMDK grain size ${grain} is invalid`);
  const l1Entries = Math.ceil(capacity / (grain * gtes));
  if (l1Entries > MAX_L1_ENTRIES) throw new StructureError('VMDK grain directory is too big');

  if (descOffset === 0) s.fail('descriptor', 'No descriptor found');
  else if (descOffset !== 1) throw new StructureError('Wrong descriptor location');
  else {
    const length = Math.min(descSize * 512, DESCRIPTOR_MAX);
    const more = 512 + length > HEAD ? yield read(HEAD, 512 + length - HEAD) : Buffer.alloc(0);
    const all = Buffer.concat([h, more]);
    need(all, 512 + length, 'VMDK descriptor');
    embeddedDescriptor(s, all.subarray(512, 512 + length), options);
  }

  // qemu refuses a file that ends before its first grain: the header, descriptor or tables are cut.
  s.mustContain(0, grainOffset * 512, 'metadata before its first grain (overHead)');
  if (gd === GD_AT_END) yield* footer(s, h);
  else s.mustContain(gd * 512, l1Entries * 4, 'grain directory');
}

function embeddedDescriptor(s: ProbeState, bytes: Buffer, options: ProbeOptions): void {
  const d = parseDescriptor(bytes);
  if (!d.createType) {
    s.fail('descriptor', 'No createType in the VMDK descriptor');
  } else if (!SELF_CONTAINED.includes(d.createType.toLowerCase())) {
    s.fail('descriptor', `Unsupported subformat ${printable(d.createType)}: a sparse VMDK must be monolithicSparse or streamOptimized`);
  } else if (!options.vmdkAllowedTypes.some((t) => t.toLowerCase() === d.createType?.toLowerCase())) {
    s.fail('descriptor', `VMDK create-type ${d.createType} is not in vmdk_allowed_types`);
  }
  if (d.invalid.length > 0) s.fail('descriptor', `Invalid VMDK descriptor data: "${printable(d.invalid[0], 80)}"`);
  if (d.extents.length === 0) s.fail('descriptor', 'No extents found');
  if (d.extents.some((e) => /[/\\]/.test(e.file))) s.fail('descriptor', 'Invalid extent filenames found: extents must be inside the image');
  if (d.parentHint) s.fail('backing_file', `VMDK names a parent image "${printable(d.parentHint)}" (parentFileNameHint)`);
}

function textDescriptor(s: ProbeState, bytes: Buffer): void {
  const d = parseDescriptor(bytes);
  s.virtualSize = d.extents.reduce((sum, e) => sum + e.sectors * 512, 0);
  const files = d.extents.filter((e) => e.file).map((e) => `"${printable(e.file, 80)}"`);
  s.fail(
    'descriptor',
    `VMDK descriptor file${d.createType ? ` (createType ${printable(d.createType)})` : ''} keeps its data in separate extent files` +
      `${files.length ? ` (${files.slice(0, 3).join(', ')})` : ''}; only self-contained VMDK images (streamOptimized, monolithicSparse) are accepted`,
  );
  if (d.parentHint) s.fail('backing_file', `VMDK names a parent image "${printable(d.parentHint)}" (parentFileNameHint)`);
}

/** A stream-optimized VMDK written with the grain directory at the end: the footer must repeat the header. */
function* footer(s: ProbeState, header: Buffer): ProbeRun {
  const tail: Buffer = yield { offset: END, length: 1536 };
  need(tail, 1536, 'VMDK footer');
  const marker = tail.subarray(0, 512);
  const foot = tail.subarray(512, 1024);
  const eos = tail.subarray(1024, 1536);
  if (marker.readUInt32LE(8) !== 0 || marker.readUInt32LE(12) !== MARKER_FOOTER || !zero(marker, 16)) {
    s.fail('footer', 'Footer marker is invalid');
  }
  if (!startsWith(foot, KDMV)) s.fail('footer', 'Header and footer signature do not match');
  else if (foot.readUInt32LE(4) !== header.readUInt32LE(4)) s.fail('footer', 'Header and footer versions do not match');
  else if (!foot.subarray(28, 44).equals(header.subarray(28, 44))) s.fail('footer', 'Footer specifies a different descriptor than header');
  else if (u64(foot, 56, true) === GD_AT_END) s.fail('footer', 'Footer indicates another footer');
  if (!zero(eos, 0)) s.fail('footer', 'End-of-stream marker is invalid');
}

const zero = (b: Buffer, from: number) => b.subarray(from).every((x) => x === 0);

interface Descriptor {
  createType: string | null;
  parentHint: string | null;
  extents: { access: string; sectors: number; type: string; file: string }[];
  invalid: string[];
}

const EXTENT = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+\d+)?)?\s*$/i;
const SETTING = /^([A-Za-z0-9_.]+)\s*=\s*(.*?)\s*$/;

/** The descriptor text up to its first NUL: settings, extent lines, `#` comments. */
function parseDescriptor(bytes: Buffer): Descriptor {
  const nul = bytes.indexOf(0);
  const text = bytes.toString('latin1', 0, nul === -1 ? bytes.length : nul);
  const d: Descriptor = { createType: null, parentHint: null, extents: [], invalid: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const extent = EXTENT.exec(line);
    if (extent) {
      d.extents.push({ access: extent[1], sectors: Number(extent[2]), type: extent[3], file: extent[4] ?? '' });
      continue;
    }
    const setting = SETTING.exec(line);
    if (!setting) {
      d.invalid.push(line);
      continue;
    }
    const key = setting[1].toLowerCase();
    const value = setting[2].replace(/^"(.*)"$/, '$1');
    if (key === 'createtype') d.createType = value;
    else if (key === 'parentfilenamehint' && value !== '') d.parentHint = value;
  }
  return d;
}

/** qemu's probe: the first line that is neither blank nor a comment is `version=1|2|3`. */
function qemuProbesAsDescriptor(h: Buffer): boolean {
  const text = h.toString('latin1', 0, Math.min(h.length, 4096));
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed.trim() === '' || trimmed.startsWith('#')) continue;
    return /^version=[123]$/.test(trimmed);
  }
  return false;
}

/** Glance's test: printable text that names a createType. */
function looksLikeGlanceDescriptor(h: Buffer): boolean {
  const start = h.subarray(0, 64);
  if (start.length === 0 || !start.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)) return false;
  const nul = h.indexOf(0);
  return /createtype\s*=\s*"/i.test(h.toString('latin1', 0, nul === -1 ? h.length : nul));
}
