/**
 * qcow2 (and legacy qcow v1, which shares the magic). Big-endian header; the
 * dangerous parts are a backing file and an external data file, both of
 * which make qemu open a host path named by the image.
 */
import { type Probe, type ProbeState, StructureError, need, printable, read, startsWith, u64 } from './probe.js';

const MAGIC = Buffer.from('QFI\xfb', 'latin1');
const EXT_DATA_FILE = 0x44415441;
/** Incompatible features qemu and Glance both know: dirty, corrupt, external data file, compression type. */
const KNOWN_INCOMPATIBLE = 0x0fn;
const INCOMPAT_DATA_FILE = 0x04n;
const INCOMPAT_EXTENDED_L2 = 0x10n;
const MAX_CLUSTER_BITS = 21;
/** qemu's QCOW_MAX_L1_SIZE (32 MiB of 8-byte entries). */
const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;

export const qcow2: Probe = {
  format: 'qcow2',
  *run(s: ProbeState) {
    // The header, its extensions and the backing file name live in the first cluster; 64 KiB of it is
    // more than any real image uses, and extensions beyond that are refused.
    const h = yield read(0, 64 * 1024);
    if (!startsWith(h, MAGIC)) return;
    s.matched = true;
    need(h, 32, 'qcow2 header');
    const version = h.readUInt32BE(4);
    s.virtualSize = u64(h, 24, false);
    if (version !== 2 && version !== 3) {
      s.fail('unknown_features', `Unsupported qcow2 version ${version}${version === 1 ? ' (legacy QCOW)' : ''}`);
      return;
    }
    need(h, 72, 'qcow2 header');
    const backingOffset = u64(h, 8, false);
    const backingSize = h.readUInt32BE(16);
    if (backingOffset !== 0) {
      const name = backingOffset + backingSize <= h.length ? ` "${printable(h.subarray(backingOffset, backingOffset + backingSize))}"` : '';
      s.fail('backing_file', `Image has a backing file${name}`);
    }
    const clusterBits = h.readUInt32BE(20);
    if (clusterBits < 9 || clusterBits > MAX_CLUSTER_BITS) throw new StructureError(`qcow2 cluster_bits ${clusterBits} is outside 9..21`);
    const clusterSize = 2 ** clusterBits;
    const cryptMethod = h.readUInt32BE(32);
    if (cryptMethod > 2) throw new StructureError(`unknown qcow2 encryption method ${cryptMethod}`);

    let headerLength = 72;
    let extendedL2 = false;
    let dataFileBit = false;
    if (version === 3) {
      need(h, 104, 'qcow2 v3 header');
      const incompatible = h.readBigUInt64BE(72);
      dataFileBit = (incompatible & INCOMPAT_DATA_FILE) !== 0n;
      if (incompatible & ~KNOWN_INCOMPATIBLE) {
        s.fail('unknown_features', `Unknown QCOW2 features found (incompatible feature bits 0x${incompatible.toString(16)})`);
      }
      extendedL2 = (incompatible & INCOMPAT_EXTENDED_L2) !== 0n;
      headerLength = h.readUInt32BE(100);
      if (headerLength < 104 || headerLength % 8 !== 0 || headerLength > clusterSize) {
        throw new StructureError(`qcow2 header_length ${headerLength} is invalid`);
      }
    }
    checkSize(s, clusterBits, extendedL2, h.readUInt32BE(36));
    const dataFile = dataFileName(h, headerLength, Math.min(clusterSize, 64 * 1024));
    if (dataFileBit || dataFile !== null) s.fail('data_file', `Image has data_file set${dataFile ? ` ("${dataFile}")` : ''}`);

    const l1Entries = h.readUInt32BE(36);
    s.mustContain(u64(h, 40, false), l1Entries * 8, 'L1 table');
    s.mustContain(u64(h, 48, false), h.readUInt32BE(56) * clusterSize, 'refcount table');
  },
};

/** qemu's own limits: it refuses to open ("Image is too big", "L1 table is too small") beyond them. */
function checkSize(s: ProbeState, clusterBits: number, extendedL2: boolean, l1Entries: number): void {
  const size = s.virtualSize ?? 0;
  const bytesPerL1Entry = 2 ** clusterBits * (2 ** clusterBits / (extendedL2 ? 16 : 8));
  const l1Needed = Math.ceil(size / bytesPerL1Entry);
  if (!Number.isFinite(size) || l1Needed > 0x7fffffff || l1Needed > MAX_L1_ENTRIES) {
    s.fail('virtual_size', `Image is too big: a virtual size of ${Number.isFinite(size) ? size : 'over 2^53'} bytes is beyond what qemu opens`);
  } else if (l1Entries < l1Needed) {
    s.fail('header', `qcow2 L1 table is too small (${l1Entries} entries) for its virtual size`);
  }
}

/** Walks the header extensions to their end marker; returns the external data file's name, if one is named. */
function dataFileName(h: Buffer, from: number, limit: number): string | null {
  let name: string | null = null;
  let at = from;
  while (true) {
    need(h, at + 8, 'qcow2 header extensions');
    if (at + 8 > limit) throw new StructureError('qcow2 header extensions run past the first cluster');
    const type = h.readUInt32BE(at);
    const length = h.readUInt32BE(at + 4);
    if (type === 0) return name;
    const end = at + 8 + length;
    if (end > limit) throw new StructureError('qcow2 header extension runs past the first cluster');
    need(h, end, 'qcow2 header extensions');
    // Named even without the feature bit: qemu-img still reports (and opens) it.
    if (type === EXT_DATA_FILE) name = printable(h.subarray(at + 8, end));
    at = end + ((8 - (length % 8)) % 8);
  }
}
