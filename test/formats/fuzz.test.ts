/**
 * Fuzzing the inspector with thousands of mutants of every corpus sample:
 * flipped bits, boundary integers in header fields, truncations. It must
 * never throw, never hang, and never accept an image that is dangerous —
 * judged by qemu-img itself: every accepted mutant of a hostile sample (and
 * a share of the benign ones) is opened by qemu-img, which must report no
 * backing file, no external data file and no extent outside the image.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PROBE_OPTIONS, FormatInspector } from '../../src/formats/inspector.js';
import { judgeUpload } from '../../src/formats/policy.js';
import { type Corpus, type Sample, corpusSkip, loadCorpus } from '../helpers/samples.js';
import { GLANCE_POLICY } from './expectations.js';

const MUTANTS_PER_SAMPLE = Number(process.env.GLIMPSE_FUZZ_MUTANTS ?? 120);
const SEED = Number(process.env.GLIMPSE_FUZZ_SEED ?? 20261125);
/** One accepted benign mutant in this many is also checked with qemu-img. */
const BENIGN_CHECK_EVERY = 8;
const QEMU_NAME: Record<string, string> = { vhd: 'vpc', ploop: 'parallels', iso: 'raw', ami: 'raw' };
const INTERESTING = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x200n, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn];

class Random {
  constructor(private state: number) {}
  next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/** Where mutations land: mostly headers, sometimes deeper structures, sometimes the end. */
function position(r: Random, size: number): number {
  const zone = r.below(10);
  if (zone < 6) return r.below(Math.min(size, 4096));
  if (zone < 9) return r.below(Math.min(size, 4 * 1024 * 1024));
  return Math.max(0, size - 1 - r.below(Math.min(size, 2048)));
}

/** Applies one or a few mutations in place; returns how to undo them, or a truncated view. */
function mutate(r: Random, bytes: Buffer): { data: Buffer; undo: () => void } {
  if (bytes.length === 0) return { data: bytes, undo: () => {} };
  if (r.below(10) === 0) return { data: bytes.subarray(0, r.below(Math.min(bytes.length, 512 * 1024))), undo: () => {} };
  const saved: [number, number][] = [];
  const set = (at: number, value: number) => {
    if (at >= bytes.length) return;
    saved.push([at, bytes[at]]);
    bytes[at] = value;
  };
  for (let n = 1 + r.below(3); n > 0; n--) {
    const at = position(r, bytes.length);
    switch (r.below(4)) {
      case 0:
        set(at, bytes[at] ^ (1 << r.below(8)));
        break;
      case 1:
        set(at, [0, 0xff, 0x7f, 0x80][r.below(4)]);
        break;
      case 2: {
        const value = INTERESTING[r.below(INTERESTING.length)];
        const width = [2, 4, 8][r.below(3)];
        const le = r.below(2) === 0;
        for (let i = 0; i < width; i++) {
          const shift = BigInt(8 * (le ? i : width - 1 - i));
          set(at + i, Number((value >> shift) & 0xffn));
        }
        break;
      }
      default:
        set(at, r.below(256));
    }
  }
  return { data: bytes, undo: () => saved.reverse().forEach(([at, v]) => (bytes[at] = v)) };
}

function inspect(data: Buffer) {
  const inspector = new FormatInspector(DEFAULT_PROBE_OPTIONS);
  for (let at = 0; at < data.length; at += 65536) inspector.feed(data.subarray(at, at + 65536));
  return inspector.finish();
}

/** What qemu-img would open besides the image itself; empty when the image is self-contained. */
function qemuDangers(file: string, format: string | null): string[] {
  const args = ['info', '--output=json', ...(format ? ['-f', format] : []), file];
  const run = spawnSync('prlimit', ['--as=1073741824', '--cpu=10', 'qemu-img', ...args], { encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) return []; // qemu-img refuses it too: nothing is opened
  const info = JSON.parse(run.stdout);
  const dangers: string[] = [];
  if (info['backing-filename']) dangers.push(`backing file ${info['backing-filename']}`);
  const data = info['format-specific']?.data ?? {};
  if (data['data-file']) dangers.push(`data file ${data['data-file']}`);
  for (const extent of data.extents ?? []) {
    if (extent.filename !== file) dangers.push(`extent ${extent.filename}`);
  }
  return dangers;
}

describe('inspector fuzzing', { skip: corpusSkip() }, () => {
  let corpus: Corpus;
  let work: string;
  before(() => {
    corpus = loadCorpus();
    work = mkdtempSync(path.join(tmpdir(), 'glimpse-fuzz-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it(`survives ${MUTANTS_PER_SAMPLE} mutants of every sample and never accepts what qemu-img finds dangerous`, { timeout: 600_000 }, () => {
    const r = new Random(SEED);
    let inspected = 0;
    let checked = 0;
    let accepted = 0;
    const dangerous: string[] = [];
    for (const s of corpus.samples as Sample[]) {
      const original = readFileSync(path.join(corpus.dir, s.file));
      const bytes = Buffer.from(original);
      for (let i = 0; i < MUTANTS_PER_SAMPLE; i++) {
        const { data, undo } = mutate(r, bytes);
        const report = inspect(data);
        inspected++;
        for (const format of [s.declared_disk_format, 'raw']) {
          const verdict = judgeUpload(report, format, GLANCE_POLICY);
          if (!verdict.accepted) continue;
          accepted++;
          if (s.category === 'benign' && r.below(BENIGN_CHECK_EVERY) !== 0) continue;
          const file = path.join(work, `${s.file}.${i}`);
          writeFileSync(file, data);
          for (const qemuFormat of new Set([QEMU_NAME[format] ?? format, null])) {
            const dangers = qemuDangers(file, qemuFormat);
            if (dangers.length) dangerous.push(`${s.file} mutant ${i} (seed ${SEED}) accepted as ${format}: qemu-img -f ${qemuFormat ?? 'probe'} opens ${dangers.join(', ')}`);
          }
          checked++;
          rmSync(file);
        }
        undo();
      }
      assert.ok(bytes.equals(original), `${s.file}: mutations were undone`);
    }
    assert.deepEqual(dangerous, []);
    assert.ok(inspected >= corpus.samples.length * MUTANTS_PER_SAMPLE);
    assert.ok(checked > 100, `only ${checked} accepted mutants were checked with qemu-img (of ${accepted} accepted)`);
  });
});
