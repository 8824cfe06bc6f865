/**
 * What Glimpse must decide for each corpus sample: current Glance's verdict,
 * except where Glimpse is deliberately stricter (each with its reason).
 */
import type { FormatPolicy } from '../../src/formats/policy.js';
import type { Corpus, GlanceUpload } from '../helpers/samples.js';

export const GLANCE_POLICY: FormatPolicy = { requireFormatMatch: true, gptNonFatal: [] };
export const DISK_FORMATS = ['raw', 'qcow2', 'vhd', 'vhdx', 'vmdk', 'vdi', 'iso', 'ploop', 'ami'];

const REFUSED: GlanceUpload = { result: 'rejected' };
const allRefused = Object.fromEntries(DISK_FORMATS.map((f) => [f, REFUSED]));

/**
 * Where Glimpse decides otherwise than Glance, and why. Everything else must
 * match Glance's verdict exactly.
 */
export const STRICTER_THAN_GLANCE: Record<string, { why: string; verdicts: Record<string, GlanceUpload> }> = {
  'qcow2-huge-size.qcow2': { why: 'a virtual size qemu refuses to open ("Image is too big") is refused', verdicts: allRefused },
  'qcow2-trunc-64.qcow2': { why: 'qemu probes these bytes as qcow2: a truncated qcow2 is refused, even declared raw', verdicts: allRefused },
  'qcow2-trunc-256.qcow2': { why: 'qemu opens it as a 1 GiB qcow2: truncated structures are refused, even declared raw', verdicts: allRefused },
  'vdi-trunc-256.vdi': { why: 'qemu probes VDI by its signature at 0x40: a truncated VDI is refused, even declared raw', verdicts: allRefused },
  'iso-trunc-33000.iso': { why: 'an ISO whose volume descriptor is cut off is truncated, not raw', verdicts: allRefused },
  'empty.img': { why: 'a zero-byte image has no disk in it (Glance accepts it as raw)', verdicts: allRefused },
  'iso-gpt.iso': { why: 'an ISO that is also an MBR/GPT disk matches two formats (Glance 32 accepts it as iso)', verdicts: allRefused },
  'ploop.hds': {
    why: 'Glimpse inspects ploop (qemu "parallels"): declared ploop it gets its virtual size; declared ami it is a mismatch',
    verdicts: { ploop: { result: 'accepted', virtual_size: 67108864 }, ami: REFUSED },
  },
};

export function expectedVerdict(corpus: Corpus, file: string, format: string): GlanceUpload {
  return STRICTER_THAN_GLANCE[file]?.verdicts[format] ?? corpus.glance[file][format];
}

