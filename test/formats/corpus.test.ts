/**
 * The inspector against real images built by qemu-img: what it detects and
 * the virtual size must agree with qemu-img, its upload verdict with current
 * Glance's for every disk_format (except where Glimpse is deliberately
 * stricter, listed below with the reason), whatever the chunking.
 */
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { DEFAULT_PROBE_OPTIONS, FormatInspector, type InspectionReport, inspectStream } from '../../src/formats/inspector.js';
import { detectedFormat, judgeUpload } from '../../src/formats/policy.js';
import { type Corpus, corpusSkip, loadCorpus } from '../helpers/samples.js';
import { DISK_FORMATS, GLANCE_POLICY, expectedVerdict } from './expectations.js';

/** qemu-img's name for a detected format (iso and gpt are raw to qemu; qcow v1 shares qcow2's magic). */
const QEMU_NAME: Record<string, string> = { iso: 'raw', gpt: 'raw', vhd: 'vpc', ploop: 'parallels' };
const qemuName = (format: string) => QEMU_NAME[format] ?? format;

async function inspectFile(file: string, chunk: number | 'random'): Promise<InspectionReport> {
  if (chunk !== 'random') return inspectStream(createReadStream(file, { highWaterMark: chunk }));
  const bytes = readFileSync(file);
  const inspector = new FormatInspector(DEFAULT_PROBE_OPTIONS);
  let seed = bytes.length;
  for (let at = 0; at < bytes.length; ) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const n = 1 + (seed % 9000);
    inspector.feed(bytes.subarray(at, at + n));
    at += n;
  }
  return inspector.finish();
}

describe('format inspection of the qemu-img corpus', { skip: corpusSkip() }, () => {
  let corpus: Corpus;
  const reports = new Map<string, InspectionReport>();

  before(async () => {
    corpus = loadCorpus();
    for (const s of corpus.samples) reports.set(s.file, await inspectFile(path.join(corpus.dir, s.file), 64 * 1024));
  });

  it('builds the whole corpus', () => {
    assert.ok(corpus.samples.length >= 47, `only ${corpus.samples.length} samples`);
    for (const s of corpus.samples) assert.ok(corpus.glance[s.file], `${s.file} has no reference verdict`);
  });

  it('detects what qemu-img detects, with the same virtual size', () => {
    let compared = 0;
    for (const s of corpus.samples) {
      const report = reports.get(s.file)!;
      if (!s.qemu_img.format) continue; // qemu-img could not open it: nothing to agree with
      const qemuFormat = s.qemu_img.format === 'qcow' ? 'qcow2' : s.qemu_img.format;
      const candidates = report.findings.length ? report.findings : [{ format: 'raw', virtualSize: report.size }];
      const same = candidates.find((f) => qemuName(f.format) === qemuFormat);
      assert.ok(same, `${s.file}: qemu-img says ${qemuFormat}, Glimpse found ${candidates.map((f) => f.format)}`);
      const ours = qemuFormat === 'raw' ? Math.ceil(same.virtualSize / 512) * 512 : same.virtualSize; // qemu rounds raw up to a sector
      assert.equal(ours, s.qemu_img.virtual_size, `${s.file}: virtual size`);
      compared++;
    }
    assert.ok(compared >= 38, `only ${compared} samples compared`);
  });

  it('decides every upload as Glance does, for every disk_format, except where documented as stricter', () => {
    for (const s of corpus.samples) {
      for (const format of DISK_FORMATS) {
        const verdict = judgeUpload(reports.get(s.file)!, format, GLANCE_POLICY);
        const glance = expectedVerdict(corpus, s.file, format);
        const what = `${s.file} declared ${format}`;
        assert.equal(verdict.accepted ? 'accepted' : 'rejected', glance.result, `${what}: ${verdict.accepted ? 'accepted' : verdict.reason}`);
        if (verdict.accepted) assert.equal(verdict.virtualSize, glance.virtual_size ?? null, `${what}: virtual size`);
      }
    }
  });

  it('refuses every hostile sample for its declared format, and says why', () => {
    for (const s of corpus.samples.filter((x) => x.category === 'hostile')) {
      const verdict = judgeUpload(reports.get(s.file)!, s.declared_disk_format, GLANCE_POLICY);
      assert.ok(!verdict.accepted, `${s.file} (${s.description}) was accepted`);
      assert.match(verdict.reason, /safety checks: \w+ \(|does not match|Multiple formats/, s.file);
    }
  });

  it('names the host paths hostile images point at', () => {
    const reason = (file: string) => {
      const v = judgeUpload(reports.get(file)!, 'qcow2', GLANCE_POLICY);
      return v.accepted ? '' : v.reason;
    };
    assert.match(reason('qcow2-backing-etc-passwd.qcow2'), /backing_file \(Image has a backing file "\/etc\/passwd"\)/);
    assert.match(reason('qcow2-datafile-etc-passwd.qcow2'), /data_file \(Image has data_file set \("\/etc\/passwd"\)\)/);
    const vmdk = judgeUpload(reports.get('vmdk-desc-etc-passwd.vmdk')!, 'vmdk', GLANCE_POLICY);
    assert.ok(!vmdk.accepted && vmdk.reason.includes('"/etc/passwd"'), 'the VMDK extent path is named');
  });

  it('reaches the same verdict whatever the chunk size', async () => {
    for (const s of corpus.samples) {
      const file = path.join(corpus.dir, s.file);
      const expected = reports.get(s.file);
      assert.deepEqual(await inspectFile(file, 4096), expected, `${s.file} in 4 KiB chunks`);
      assert.deepEqual(await inspectFile(file, 'random'), expected, `${s.file} in random chunks`);
    }
  });

  it('honours vmdk_allowed_types, require_image_format_match and gpt_safety_checks_nonfatal', async () => {
    const file = path.join(corpus.dir, 'vmdk-monolithicSparse.vmdk');
    const onlyStream = await inspectStream(createReadStream(file), { vmdkAllowedTypes: ['streamOptimized'] });
    const refused = judgeUpload(onlyStream, 'vmdk', GLANCE_POLICY);
    assert.ok(!refused.accepted && /not in vmdk_allowed_types/.test(refused.reason));

    const loose = { ...GLANCE_POLICY, requireFormatMatch: false };
    const mismatch = judgeUpload(reports.get('qcow2-v3.qcow2')!, 'vhd', loose);
    assert.deepEqual(mismatch, { accepted: true, format: 'vhd', virtualSize: null }, 'a mismatch is tolerated when matching is not required');
    assert.ok(!judgeUpload(reports.get('qcow2-backing.qcow2')!, 'vhd', loose).accepted, 'safety checks still apply');
    assert.ok(judgeUpload(reports.get('iso-qcow2-sysarea.iso')!, 'iso', loose).accepted, 'two safe formats pass when matching is off');

    const hybrid = reports.get('iso-gpt.iso')!;
    const gptOnly = { ...hybrid, findings: hybrid.findings.filter((f) => f.format === 'gpt').map((f) => ({ ...f, failures: [{ check: 'mbr', message: 'x' }] })) };
    assert.ok(!judgeUpload(gptOnly, 'raw', GLANCE_POLICY).accepted);
    assert.ok(judgeUpload(gptOnly, 'raw', { ...GLANCE_POLICY, gptNonFatal: ['mbr'] }).accepted);
    assert.deepEqual(detectedFormat(hybrid), { finding: null, format: 'gpt,iso', ambiguous: true });
  });
});
