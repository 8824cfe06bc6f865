/** Parallels / ploop images (qemu's `parallels` driver): a 64-byte little-endian header, then the BAT. */
import { type Probe, type ProbeState, StructureError, need, read, u64 } from './probe.js';

const MAGICS = ['WithoutFreeSpace', 'WithouFreSpacExt'];

export const ploop: Probe = {
  format: 'ploop',
  *run(s: ProbeState) {
    const h = yield read(0, 64);
    if (h.length < 16 || !MAGICS.includes(h.toString('latin1', 0, 16))) return;
    s.matched = true;
    need(h, 64, 'ploop header');
    const legacy = h.toString('latin1', 0, 16) === MAGICS[0];
    const version = h.readUInt32LE(16);
    if (version !== 2) throw new StructureError(`unsupported ploop version ${version}`);
    const clusterSectors = h.readUInt32LE(28);
    const batEntries = h.readUInt32LE(32);
    const sectors = legacy ? h.readUInt32LE(36) : u64(h, 36, true);
    if (clusterSectors === 0) throw new StructureError('ploop cluster size is 0');
    if (batEntries * clusterSectors < sectors) throw new StructureError('ploop BAT is too small for its virtual size');
    s.virtualSize = sectors * 512;
    s.mustContain(64, batEntries * 4, 'block allocation table');
  },
};
