/**
 * ISO 9660 / UDF. The first 32 KiB (system area) are free-form, which is
 * why an ISO can also be an MBR/GPT disk (hybrid boot ISOs) or carry a
 * qcow2 header: both are two formats, refused. Volume descriptors follow,
 * one per 2 KiB sector; the primary one gives the volume size.
 */
import { type Probe, type ProbeState, read } from './probe.js';

const DESCRIPTORS_AT = 32 * 1024;
const SECTOR = 2048;
/** Descriptors read before giving up on a primary volume descriptor. */
const MAX_DESCRIPTORS = 16;
const IDENTIFIERS = new Set(['CD001', 'BEA01', 'NSR02', 'NSR03']);
const PRIMARY = 1;
const TERMINATOR = 255;

export const iso: Probe = {
  format: 'iso',
  *run(s: ProbeState) {
    const d = yield read(DESCRIPTORS_AT, MAX_DESCRIPTORS * SECTOR);
    if (d.length < 6 || !IDENTIFIERS.has(d.toString('latin1', 1, 6))) return;
    s.matched = true;
    for (let at = 0; at + SECTOR <= d.length; at += SECTOR) {
      const type = d[at];
      const id = d.toString('latin1', at + 1, at + 6);
      if (id === 'CD001' && type === TERMINATOR) break;
      if (id === 'CD001' && type === PRIMARY) {
        const blocks = d.readUInt32LE(at + 80);
        const blockSize = d.readUInt16LE(at + 128);
        s.virtualSize = blocks * blockSize;
        s.mustContain(0, s.virtualSize, 'ISO volume');
        return;
      }
    }
    if (d.length < SECTOR) s.mustContain(DESCRIPTORS_AT, SECTOR, 'first volume descriptor');
  },
};
