/**
 * LUKS v1 containers (Cinder's encrypted volumes are uploaded as raw). The
 * payload starts `payload offset` sectors in; the guest sees the rest.
 */
import { END, type Probe, type ProbeState, need, read, startsWith } from './probe.js';

const MAGIC = Buffer.from('LUKS\xba\xbe', 'latin1');
const HEADER = 592;
const KEY_SLOTS = 8;
const SLOT_ACTIVE = 0x00ac71f3;

export const luks: Probe = {
  format: 'luks',
  *run(s: ProbeState) {
    const h = yield read(0, HEADER);
    if (!startsWith(h, MAGIC)) return;
    s.matched = true;
    need(h, 8, 'LUKS header');
    const version = h.readUInt16BE(6);
    if (version !== 1) {
      s.fail('version', `LUKS version ${version} is not supported`);
      return;
    }
    need(h, HEADER, 'LUKS header');
    const payload = h.readUInt32BE(104) * 512;
    const keyBytes = h.readUInt32BE(108);
    for (let slot = 0; slot < KEY_SLOTS; slot++) {
      const at = 208 + slot * 48;
      if (h.readUInt32BE(at) !== SLOT_ACTIVE) continue;
      s.mustContain(h.readUInt32BE(at + 40) * 512, keyBytes * h.readUInt32BE(at + 44), `key slot ${slot}`);
    }
    s.mustContain(0, payload, 'LUKS header and key material');
    yield { offset: END, length: 0 };
    s.virtualSize = Math.max(0, (s.total ?? 0) - payload);
  },
};
