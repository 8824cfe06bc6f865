/**
 * The disk-image corpus of ../shared/formats/make-samples.sh: real images
 * built by qemu-img (benign and hostile), with what qemu-img says of each
 * (expected.json) and what Glance's inspector decided (expected.reference.json).
 * Built once per machine into the temp dir, atomically, since suites run in parallel.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SHARED_DIR, requireTool } from './tools.js';

export interface Sample {
  file: string;
  declared_disk_format: string;
  category: 'benign' | 'hostile';
  description: string;
  size_bytes: number;
  qemu_img: { format?: string; virtual_size?: number; error?: string };
}

export interface GlanceUpload {
  result: 'accepted' | 'rejected';
  virtual_size?: number | null;
  http_status?: number;
  reason?: string;
}

export interface Corpus {
  dir: string;
  samples: Sample[];
  /** Current Glance's upload verdict per sample, per declared disk_format. */
  glance: Record<string, Record<string, GlanceUpload>>;
}

const SCRIPT = path.join(SHARED_DIR, 'formats', 'make-samples.sh');
const TOOLS: [string, string][] = [
  ['qemu-img', 'qemu-utils'],
  ['genisoimage', 'genisoimage'],
  ['sgdisk', 'gdisk'],
  ['sfdisk', 'fdisk'],
];

/** Skips (with a message) unless the script and every tool it uses are here. */
export function corpusSkip(): string | false {
  for (const [tool, pkg] of TOOLS) {
    const skip = requireTool(tool, () => spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status === 0, `apt-get install ${pkg}`);
    if (skip) return skip;
  }
  return requireTool('../shared/formats/make-samples.sh', () => existsSync(SCRIPT), 'the shared/ folder beside the repository');
}

export function loadCorpus(): Corpus {
  // Named after the script's version, so a changed script builds afresh and a built corpus is never replaced.
  const dir = path.join(tmpdir(), `glimpse-format-samples-${Math.trunc(statSync(SCRIPT).mtimeMs)}`);
  const expected = path.join(dir, 'expected.json');
  if (!existsSync(expected)) build(dir);
  const samples = (JSON.parse(readFileSync(expected, 'utf8')) as { samples: Sample[] }).samples;
  const reference = JSON.parse(readFileSync(path.join(SHARED_DIR, 'formats', 'expected.reference.json'), 'utf8')) as {
    samples: { file: string; oslo_upstream: { upload: Record<string, GlanceUpload> } }[];
  };
  const glance = Object.fromEntries(reference.samples.map((s) => [s.file, s.oslo_upstream.upload]));
  return { dir, samples, glance };
}

function build(dir: string): void {
  const work = mkdtempSync(path.join(tmpdir(), 'glimpse-samples-build-'));
  const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
  const run = spawnSync('bash', [SCRIPT, work], { encoding: 'utf8', env });
  if (run.status !== 0) throw new Error(`make-samples.sh failed:\n${run.stderr}`);
  const skipped = readFileSync(path.join(work, 'SKIPPED.txt'), 'utf8').trim();
  if (skipped && process.env.GLIMPSE_REQUIRE_ALL === '1') throw new Error(`make-samples.sh skipped samples:\n${skipped}`);
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another suite won the race: its corpus is the same
  }
}
