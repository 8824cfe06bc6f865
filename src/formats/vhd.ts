/**
 * VHD (qemu's `vpc`): dynamic and differencing disks begin with a copy of
 * the 512-byte big-endian footer, then a dynamic header and the BAT. Fixed
 * disks keep their footer only at the end, so their bytes are raw to qemu's
 * probe and to Glance alike (detected as raw, as Glance does).
 */
import { type Probe, type ProbeState, StructureError, isPowerOfTwo, need, read, startsWith, u64 } from './probe.js';

const COOKIE = Buffer.from('conectix', 'latin1');
const DYNAMIC_COOKIE = Buffer.from('cxsparse', 'latin1');
const DYNAMIC = 3;
const DIFFERENCING = 4;
/** qemu's VHD_MAX_SECTORS: 2040 GiB. */
const MAX_SIZE = 0xff000000 * 512;
/** Creators whose geometry is the authoritative size in qemu; anyone else's `current size` is. */
const CHS_CREATORS = new Set(['vpc ', 'qemu']);

export const vhd: Probe = {
  format: 'vhd',
  *run(s: ProbeState) {
    const f = yield read(0, 512);
    if (!startsWith(f, COOKIE)) return;
    s.matched = true;
    need(f, 512, 'VHD footer copy');
    const type = f.readUInt32BE(60);
    if (type === DIFFERENCING) s.fail('backing_file', 'VHD is a differencing disk: it depends on a parent image');
    else if (type !== DYNAMIC) throw new StructureError(`unexpected VHD disk type ${type} in a footer copy at offset 0`);
    s.virtualSize = virtualSize(f);
    if (s.virtualSize > MAX_SIZE) s.fail('virtual_size', `VHD virtual size ${s.virtualSize} is over qemu's 2040 GiB limit`);

    const headerAt = u64(f, 16, false);
    if (headerAt < 512 || headerAt > 1024 * 1024) throw new StructureError(`VHD dynamic header offset ${headerAt} is invalid`);
    const d = yield read(headerAt, 1024);
    need(d, 1024, 'VHD dynamic header');
    if (!startsWith(d, DYNAMIC_COOKIE)) throw new StructureError('VHD dynamic header signature "cxsparse" not found');
    const batAt = u64(d, 16, false);
    const entries = d.readUInt32BE(28);
    const blockSize = d.readUInt32BE(32);
    if (!isPowerOfTwo(blockSize) || blockSize < 512) throw new StructureError(`VHD block size ${blockSize} is invalid`);
    if (entries * blockSize < s.virtualSize) throw new StructureError('VHD block table is too small for its virtual size');
    s.mustContain(batAt, entries * 4, 'block allocation table');
  },
};

/** The size qemu reports: the CHS geometry for qemu/Virtual PC images unless it is the maximum, else `current size`. */
function virtualSize(f: Buffer): number {
  const cylinders = f.readUInt16BE(56);
  const heads = f[58];
  const sectors = f[59];
  const creator = f.toString('latin1', 28, 32);
  const maxGeometry = cylinders === 65535 && heads === 16 && sectors === 255;
  if (CHS_CREATORS.has(creator) && !maxGeometry) return cylinders * heads * sectors * 512;
  return u64(f, 48, false);
}
