/**
 * VHDX: little-endian, 64 KiB structures. The file identifier at 0, two
 * headers (64 and 128 KiB), the region table (192 KiB) pointing at the BAT
 * and the metadata region, whose items give the virtual disk size. Checksums
 * are verified as qemu verifies them; differencing disks (a parent) are refused.
 */
import { type Probe, type ProbeRun, type ProbeState, StructureError, need, read, u64 } from './probe.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const IDENT = Buffer.from('vhdxfile', 'latin1');
const HEADERS_AT = [64 * KiB, 128 * KiB];
const REGION_TABLE_AT = 192 * KiB;
const TABLE = 64 * KiB;
const MAX_ENTRIES = 2047;
/** qemu's VHDX_MAX_IMAGE_SIZE: 64 TiB. */
const MAX_SIZE = 64 * 1024 * 1024 * MiB;

const BAT = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const METADATA = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';
const KNOWN_ITEMS = new Set([
  FILE_PARAMETERS,
  VIRTUAL_DISK_SIZE,
  'BECA12AB-B2E6-4523-93EF-C309E000C746', // page 83 data
  '8141BF1D-A96F-4709-BA47-F233A8FAAB5F', // logical sector size
  'CDA348C7-445D-4471-9CC9-E9885251C556', // physical sector size
  PARENT_LOCATOR,
]);
const HAS_PARENT = 0x2;
const ITEM_REQUIRED = 0x4;

export const vhdx: Probe = {
  format: 'vhdx',
  *run(s: ProbeState) {
    const ident = yield read(0, 8);
    if (!ident.equals(IDENT)) return;
    s.matched = true;
    let headersOk = 0;
    for (const at of HEADERS_AT) {
      const h = yield read(at, 4 * KiB);
      need(h, 4 * KiB, 'VHDX headers');
      if (h.toString('latin1', 0, 4) === 'head' && checksumOk(h, 4) && h.readUInt16LE(66) === 1) headersOk++;
    }
    if (headersOk === 0) throw new StructureError('no valid VHDX header');

    const table = yield read(REGION_TABLE_AT, TABLE);
    need(table, TABLE, 'VHDX region table');
    if (table.toString('latin1', 0, 4) !== 'regi') throw new StructureError('VHDX region table signature not found');
    if (!checksumOk(table, 4)) throw new StructureError('VHDX region table checksum mismatch');
    const count = table.readUInt32LE(8);
    if (count > MAX_ENTRIES) throw new StructureError(`VHDX region count is ${count} (limit ${MAX_ENTRIES})`);
    let metadata: { offset: number; length: number } | null = null;
    for (let i = 0; i < count; i++) {
      const at = 16 + i * 32;
      const id = guidAt(table, at);
      const offset = u64(table, at + 16, true);
      const length = table.readUInt32LE(at + 24);
      const required = (table.readUInt32LE(at + 28) & 1) === 1;
      if (offset < MiB || offset % MiB !== 0 || length % MiB !== 0) throw new StructureError('VHDX region is not 1 MiB aligned');
      if (id === METADATA) metadata = { offset, length };
      else if (id !== BAT && required) throw new StructureError(`unknown required VHDX region ${id}`);
      s.mustContain(offset, length, id === BAT ? 'block allocation table' : id === METADATA ? 'metadata region' : 'region');
    }
    if (!metadata) throw new StructureError('VHDX has no metadata region');
    yield* readMetadata(s, metadata.offset, Math.min(metadata.length, TABLE));
  },
};

function* readMetadata(s: ProbeState, regionAt: number, tableLength: number): ProbeRun {
  const m: Buffer = yield read(regionAt, tableLength);
  need(m, 32, 'VHDX metadata table');
  if (m.toString('latin1', 0, 8) !== 'metadata') throw new StructureError('VHDX metadata table signature not found');
  const count = m.readUInt16LE(10);
  if (count > MAX_ENTRIES) throw new StructureError(`VHDX metadata item count is ${count} (limit ${MAX_ENTRIES})`);
  need(m, 32 + count * 32, 'VHDX metadata table');
  const items = [];
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const id = guidAt(m, at);
    const flags = m.readUInt32LE(at + 24);
    if (!KNOWN_ITEMS.has(id) && flags & ITEM_REQUIRED) throw new StructureError(`unknown required VHDX metadata item ${id}`);
    if (id === PARENT_LOCATOR) s.fail('backing_file', 'VHDX is a differencing disk: it has a parent locator');
    if (id === FILE_PARAMETERS || id === VIRTUAL_DISK_SIZE) items.push({ id, offset: m.readUInt32LE(at + 16), length: m.readUInt32LE(at + 20) });
  }
  items.sort((a, b) => a.offset - b.offset);
  for (const item of items) {
    if (item.offset < TABLE || item.length < 8) throw new StructureError('VHDX metadata item lies inside the metadata table');
    const data: Buffer = yield read(regionAt + item.offset, 8);
    need(data, 8, 'VHDX metadata');
    if (item.id === VIRTUAL_DISK_SIZE) s.virtualSize = u64(data, 0, true);
    else if (data.readUInt32LE(4) & HAS_PARENT) s.fail('backing_file', 'VHDX is a differencing disk: it has a parent');
  }
  if (s.virtualSize === null) throw new StructureError('VHDX metadata has no virtual disk size');
  if (s.virtualSize > MAX_SIZE) s.fail('virtual_size', `VHDX virtual size ${s.virtualSize} is over qemu's 64 TiB limit`);
}

/** A GUID as text, from its mixed-endian on-disk form. */
function guidAt(b: Buffer, at: number): string {
  const hex = (from: number, to: number) => b.subarray(at + from, at + to).toString('hex');
  const le = (from: number, to: number) => Buffer.from(b.subarray(at + from, at + to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(8, 10)}-${hex(10, 16)}`.toUpperCase();
}

/** CRC-32C of the structure with its own checksum field (4 bytes at `at`) taken as zero. */
function checksumOk(b: Buffer, at: number): boolean {
  const stored = b.readUInt32LE(at);
  let crc = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    const byte = i >= at && i < at + 4 ? 0 : b[i];
    crc = CRC32C[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return ((crc ^ 0xffffffff) >>> 0) === stored;
}

const CRC32C = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();
