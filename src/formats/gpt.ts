/**
 * Partitioned raw disks: an MBR, or GPT's protective MBR. Glance calls both
 * `gpt`; the data underneath is raw, so the size is the byte count. The
 * `mbr` check is Glance's: sane entries and, for GPT, a proper protective MBR.
 */
import { type Probe, type ProbeState, read } from './probe.js';

const ENTRIES = 446;
const PROTECTIVE = 0xee;

export const gpt: Probe = {
  format: 'gpt',
  *run(s: ProbeState) {
    const h = yield read(0, 512);
    if (h.length < 512 || h[510] !== 0x55 || h[511] !== 0xaa) return;
    // A FAT boot sector carries the same signature: two FATs and media byte 0xF8 mean a filesystem, not a table.
    if (h[0x10] === 2 && h[0x15] === 0xf8) return;
    s.matched = true;
    const problems = entryProblems(h);
    if (problems.length > 0) s.fail('mbr', problems.join('; '));
  },
};

function entryProblems(h: Buffer): string[] {
  const problems: string[] = [];
  let defined = 0;
  for (let i = 0; i < 4; i++) {
    const at = ENTRIES + i * 16;
    const boot = h[at];
    const type = h[at + 4];
    if (boot !== 0x00 && boot !== 0x80) problems.push(`MBR PTE ${i} has invalid boot flag`);
    if (type !== 0) defined++;
    if (type !== PROTECTIVE) continue;
    if (h[at + 1] !== 0x00 || h[at + 2] !== 0x02 || h[at + 3] !== 0x00) problems.push('GPT MBR has invalid start CHS');
    if (h.readUInt32LE(at + 8) !== 1) problems.push('GPT MBR has invalid start LBA');
    if (i !== 0 || [1, 2, 3].some((j) => h[ENTRIES + j * 16 + 4] !== 0)) problems.push('GPT MBR defines invalid extra partitions');
  }
  if (defined === 0) problems.push('GPT MBR has no partitions defined');
  return problems;
}
