/**
 * What an upload's inspection means for the image: Glance's rules for a
 * declared `disk_format` against the detected one (§5.2 of the disk-format
 * spec), plus Glimpse's stricter ones: a truncated or malformed structure,
 * or a virtual size qemu would not open, is refused like a failed safety check.
 */
import type { Finding, InspectionReport } from './inspector.js';
import type { ProbeOptions } from './probe.js';

export interface FormatPolicy {
  /** `[image_format] require_image_format_match`. */
  requireFormatMatch: boolean;
  /** `[image_format] gpt_safety_checks_nonfatal`: check names tolerated on partitioned raw disks. */
  gptNonFatal: readonly string[];
}

/** `[image_format]`: what uploaded bytes must be — the verdict's rules and the probes' options, as one shape. */
export type ImageFormatRules = FormatPolicy & ProbeOptions;

export type Verdict =
  | { accepted: true; format: string; virtualSize: number | null }
  /** `check`: why, as a short name (empty, format_mismatch, or the first failed safety check), for counting. */
  | { accepted: false; format: string | null; reason: string; check: string };

/** Formats with nothing to inspect: Glance accepts them when the bytes are raw, without a virtual size. */
const NOT_INSPECTABLE = new Set(['ami', 'ari', 'aki']);
/**
 * Glance has no ploop inspector and accepts any raw bytes as ploop; Glimpse
 * recognises real Parallels images (and sizes them) but keeps accepting raw.
 */
const ACCEPTED_WHEN_RAW = new Set([...NOT_INSPECTABLE, 'ploop']);

/**
 * The format the bytes are: one finding, or an ambiguity. Unlike Glance 32,
 * a hybrid ISO+MBR/GPT is an ambiguity too (refused): the bytes boot as a
 * disk as well as a CD, which is what the format-safety rules exist to stop.
 */
export function detectedFormat(report: InspectionReport): { finding: Finding | null; format: string; ambiguous: boolean } {
  const { findings } = report;
  if (findings.length === 0) return { finding: null, format: 'raw', ambiguous: false };
  if (findings.length === 1) return { finding: findings[0], format: findings[0].format, ambiguous: false };
  const names = findings.map((f) => f.format).sort();
  return { finding: null, format: names.join(','), ambiguous: true };
}

export function judgeUpload(report: InspectionReport, declared: string, policy: FormatPolicy): Verdict {
  // Glance accepts zero bytes as a raw image; there is no disk in it to boot or inspect.
  if (report.size === 0) return { accepted: false, format: null, reason: 'Image failed safety checks: empty (the image has no data)', check: 'empty' };
  const detected = detectedFormat(report);
  const formatError = mismatch(detected, declared);
  if (formatError && policy.requireFormatMatch) return { accepted: false, format: detected.ambiguous ? null : detected.format, reason: formatError, check: 'format_mismatch' };

  // Without a single detected format (tolerated when matching is not required), every candidate's checks apply.
  const judged = detected.ambiguous ? report.findings : detected.finding ? [detected.finding] : [];
  const failures = judged.flatMap((f) => f.failures.filter((x) => !(f.format === 'gpt' && policy.gptNonFatal.includes(x.check))));
  if (failures.length > 0) {
    const detail = failures.map((f) => `${f.check} (${f.message})`).join('; ');
    return { accepted: false, format: detected.format, reason: `Image failed safety checks: ${detail}`, check: failures[0].check };
  }
  if (formatError) return { accepted: true, format: declared, virtualSize: null };
  return { accepted: true, format: declared, virtualSize: virtualSizeFor(declared, detected.finding, report.size) };
}

function mismatch(detected: ReturnType<typeof detectedFormat>, declared: string): string | null {
  if (detected.ambiguous) return `Multiple formats detected: ${detected.format}`;
  if (detected.format === declared) return null;
  if (declared === 'raw') return null; // raw holds anything; the detected format's safety checks still apply
  if (detected.format === 'raw' && ACCEPTED_WHEN_RAW.has(declared)) return null;
  return `Image disk_format ${declared} does not match stream data ${detected.format}`;
}

function virtualSizeFor(declared: string, finding: Finding | null, size: number): number | null {
  if (ACCEPTED_WHEN_RAW.has(declared) && !finding) return null;
  if (declared === 'raw' || !finding) return size;
  return finding.virtualSize;
}
