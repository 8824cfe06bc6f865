/**
 * The contract every format probe keeps, checked for each one alone over the
 * qemu-img corpus and over bytes made to confuse it:
 * - it claims its own format's samples and no other's (the few overlaps are
 *   listed with why they are real);
 * - alone it finds what it finds among all the probes: probes never lean on
 *   one another;
 * - it asks for ranges forward only and never more than MAX_READ at once, so
 *   memory stays bounded whatever the image;
 * - a prefix of its own image, random bytes or zeros never make it throw,
 *   and a prefix that qemu-img refuses to open never passes clean.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PROBE_OPTIONS, type Finding, FormatInspector, PROBES } from '../../src/formats/inspector.js';
import { END, MAX_READ, type Probe, type ReadRequest } from '../../src/formats/probe.js';
import { type Corpus, corpusSkip, loadCorpus } from '../helpers/samples.js';

/** Each probe's own samples, by file name. */
const FAMILY: Record<string, (file: string) => boolean> = {
  qcow2: (f) => f.startsWith('qcow2-'),
  qed: (f) => f.startsWith('qed'),
  vmdk: (f) => f.startsWith('vmdk-'),
  // A fixed VHD is raw data with a footer at its end only: raw to qemu-img and to Glance alike.
  vhd: (f) => f.startsWith('vhd-') && f !== 'vhd-fixed.vhd',
  vhdx: (f) => f.startsWith('vhdx-'),
  vdi: (f) => f.startsWith('vdi-'),
  iso: (f) => f.startsWith('iso'),
  gpt: (f) => f === 'gpt.img' || f === 'mbr.img',
  luks: (f) => f.startsWith('luks'),
  ploop: (f) => f.startsWith('ploop'),
};

/** Samples of another family that a probe rightly claims too. */
const OVERLAPS: Record<string, string[]> = {
  // QCOW version 1 has qcow2's magic: the qcow2 probe claims it and refuses its version.
  // The ISO whose system area holds a qcow2 header is both: that is why it is hostile.
  qcow2: ['qcow1.qcow', 'iso-qcow2-sysarea.iso'],
  // A hybrid ISO carries a real protective MBR and GPT in its system area.
  gpt: ['iso-gpt.iso'],
};

/** Runs one probe alone over `bytes`, fed in `chunk`-byte pieces, recording what it asked for. */
function inspectAlone(probe: Probe, bytes: Buffer, chunk = 64 * 1024): { finding: Finding | undefined; asked: ReadRequest[] } {
  const asked: ReadRequest[] = [];
  const watched: Probe = {
    format: probe.format,
    *run(state, options) {
      const gen = probe.run(state, options);
      let step = gen.next(undefined as unknown as Buffer);
      while (!step.done) {
        asked.push(step.value);
        step = gen.next(yield step.value);
      }
    },
  };
  const inspector = new FormatInspector(DEFAULT_PROBE_OPTIONS, [watched]);
  for (let at = 0; at < bytes.length; at += chunk) inspector.feed(bytes.subarray(at, at + chunk));
  return { finding: inspector.finish().findings[0], asked };
}

const scratch = mkdtempSync(path.join(tmpdir(), 'glimpse-probe-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function inspectAll(bytes: Buffer): Finding[] {
  const inspector = new FormatInspector(DEFAULT_PROBE_OPTIONS, PROBES);
  inspector.feed(bytes);
  return inspector.finish().findings;
}

/** Deterministic pseudo-random bytes. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, x = seed >>> 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Whether `qemu-img info` opens these bytes as `format`. */
function qemuOpens(format: string, data: Buffer): boolean {
  const file = path.join(scratch, 'prefix');
  writeFileSync(file, data);
  return spawnSync('qemu-img', ['info', '-f', format, file], { stdio: 'ignore' }).status === 0;
}

describe('every format probe keeps the probe contract', { skip: corpusSkip() }, () => {
  let corpus: Corpus;
  const bytes = new Map<string, Buffer>();
  before(() => {
    corpus = loadCorpus();
    for (const s of corpus.samples) bytes.set(s.file, readFileSync(path.join(corpus.dir, s.file)));
  });

  it('covers every probe the inspector runs', () => {
    assert.deepEqual(PROBES.map((p) => p.format).sort(), Object.keys(FAMILY).sort());
  });

  for (const probe of PROBES) {
    describe(probe.format, () => {
      it('claims its own samples and no other family’s', () => {
        const own = corpus.samples.map((s) => s.file).filter((f) => FAMILY[probe.format](f));
        assert.ok(own.length > 0, `the corpus has no ${probe.format} sample`);
        const claimed = corpus.samples.map((s) => s.file).filter((f) => inspectAlone(probe, bytes.get(f)!).finding);
        assert.deepEqual(claimed.sort(), [...own, ...(OVERLAPS[probe.format] ?? [])].sort());
      });

      it('finds alone what it finds among all the probes, whatever the chunking', () => {
        for (const [file, data] of bytes) {
          const together = inspectAll(data).find((f) => f.format === probe.format);
          for (const chunk of [511, 64 * 1024]) assert.deepEqual(inspectAlone(probe, data, chunk).finding, together, `${file} in ${chunk}-byte chunks`);
        }
      });

      it('reads forward only, at most MAX_READ at a time', () => {
        for (const [file, data] of bytes) {
          let last = 0;
          for (const { offset, length } of inspectAlone(probe, data).asked) {
            assert.ok(length >= 0 && length <= MAX_READ, `${file}: asked for ${length} bytes`);
            if (offset === END) continue;
            assert.ok(offset >= last, `${file}: asked for byte ${offset} after byte ${last}`);
            last = offset;
          }
        }
      });

      it('never throws on a prefix of its own image, noise or zeros, and fails a prefix qemu-img cannot open', () => {
        const own = corpus.samples.filter((s) => s.category === 'benign' && FAMILY[probe.format](s.file));
        for (const s of own) {
          const whole = bytes.get(s.file)!;
          for (const cut of [0, 1, 100, 511, 4096, 40_000, 70_000]) {
            if (cut >= whole.length) continue;
            const { finding } = inspectAlone(probe, whole.subarray(0, cut), 997);
            if (finding && finding.failures.length === 0) assert.ok(qemuOpens(s.qemu_img.format!, whole.subarray(0, cut)), `${s.file} cut at ${cut} bytes passed clean, and qemu-img cannot open it`);
          }
        }
        for (const seed of [1, 2, 3]) assert.equal(inspectAlone(probe, noise(256 * 1024, seed)).finding, undefined, `noise ${seed}`);
        assert.equal(inspectAlone(probe, Buffer.alloc(256 * 1024)).finding, undefined, 'zeros');
      });
    });
  }
});
