/**
 * VirtualBox VDI: a little-endian 512-byte header whose signature sits at
 * 0x40 (qemu probes on it alone, so this probe does too). Differencing and
 * linked images name a parent by UUID: refused.
 */
import { type Probe, type ProbeState, StructureError, need, read, u64 } from './probe.js';

const SIGNATURE = 0xbeda107f;
const VERSION_1_1 = 0x00010001;
const TYPE_DYNAMIC = 1;
const TYPE_STATIC = 2;
const TYPE_DIFFERENCING = 4;
const BLOCK_SIZE = 1024 * 1024;
/** qemu's VDI_DISK_SIZE_MAX. */
const MAX_DISK_SIZE = 0x1fffff8000000;

export const vdi: Probe = {
  format: 'vdi',
  *run(s: ProbeState) {
    const h = yield read(0, 512);
    if (h.length < 0x44 || h.readUInt32LE(0x40) !== SIGNATURE) return;
    s.matched = true;
    need(h, 0x1c8, 'VDI header');
    const version = h.readUInt32LE(0x44);
    if (version !== VERSION_1_1) throw new StructureError(`unsupported VDI version 0x${version.toString(16)}`);
    const type = h.readUInt32LE(0x4c);
    const size = u64(h, 0x170, true);
    s.virtualSize = size;
    if (type === TYPE_DIFFERENCING || !isNull(h, 0x1a8) || !isNull(h, 0x1b8)) {
      s.fail('backing_file', 'VDI image depends on a parent image (differencing or linked)');
    } else if (type !== TYPE_DYNAMIC && type !== TYPE_STATIC) {
      throw new StructureError(`unsupported VDI image type ${type}`);
    }
    if (h.readUInt32LE(0x168) !== 512) throw new StructureError('VDI sector size is not 512');
    if (size > MAX_DISK_SIZE) s.fail('virtual_size', `Unsupported VDI image size ${size} bytes`);
    const blockSize = h.readUInt32LE(0x178);
    if (blockSize !== BLOCK_SIZE) throw new StructureError(`VDI block size ${blockSize} is not 1 MiB`);
    const blocks = h.readUInt32LE(0x180);
    if (blocks * blockSize < size) throw new StructureError('VDI block map is too small for its disk size');
    s.mustContain(h.readUInt32LE(0x154), blocks * 4, 'block map');
    s.mustContain(h.readUInt32LE(0x158), h.readUInt32LE(0x184) * blockSize, 'allocated blocks');
  },
};

function isNull(h: Buffer, at: number): boolean {
  return h.subarray(at, at + 16).every((b) => b === 0);
}
