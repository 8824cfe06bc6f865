/** QED: recognised only to be refused, as Glance refuses it (qemu still opens it, backing files included). */
import { type Probe, type ProbeState, read, startsWith, u64 } from './probe.js';

const MAGIC = Buffer.from('QED\0', 'latin1');

export const qed: Probe = {
  format: 'qed',
  *run(s: ProbeState) {
    const h = yield read(0, 64);
    if (!startsWith(h, MAGIC)) return;
    s.matched = true;
    if (h.length >= 56) s.virtualSize = u64(h, 48, true);
    s.fail('banned', 'This file format (QED) is not allowed');
  },
};
