/**
 * `glimpse image inspect FILE`: the upload path's format inspector on a
 * local file, no server needed — what the file really is, its virtual size,
 * every safety check, and whether Glimpse would accept it as a disk_format.
 * Exits 1 when it would be refused, so scripts can check before uploading.
 */
import { createReadStream } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { type InspectionReport, inspectStream } from '../formats/inspector.js';
import { detectedFormat, judgeUpload } from '../formats/policy.js';
import { type OutputOptions, printRecord, withOutputOptions } from './output.js';

interface InspectOptions extends OutputOptions {
  diskFormat?: string;
  config?: string;
}

async function inspect(file: string, o: InspectOptions): Promise<void> {
  const rules = loadConfig({ config: o.config }, 'tool').imageFormat;
  const report = await inspectStream(createReadStream(file, { highWaterMark: 1024 * 1024 }), rules);
  const detected = detectedFormat(report);
  const declared = o.diskFormat ?? (detected.ambiguous || detected.format === 'gpt' ? 'raw' : detected.format);
  const verdict = judgeUpload(report, declared, rules);
  printRecord(
    {
      file,
      size: report.size,
      format: detected.format,
      virtual_size: verdict.accepted ? verdict.virtualSize : (detected.finding?.virtualSize ?? report.size),
      checks: checks(report),
      disk_format: declared,
      verdict: verdict.accepted ? 'accepted' : `refused: ${verdict.reason}`,
    },
    o,
  );
  if (!verdict.accepted) process.exitCode = 1;
}

/** Every failed check of every format found, or `pass`. */
function checks(report: InspectionReport): string {
  const failures = report.findings.flatMap((f) => f.failures.map((x) => `${f.format} ${x.check}: ${x.message}`));
  return failures.length ? failures.join('\n') : 'pass';
}

export function inspectCommand(): Command {
  return withOutputOptions(
    new Command('inspect')
      .description('inspect a local disk image as an upload would: format, virtual size, safety checks, verdict (no server needed)')
      .argument('<file>', 'the disk image')
      .option('--disk-format <format>', 'judge it as an upload with this disk_format (default: the detected format)')
      .option('--config <file>', 'take [image_format] rules (vmdk_allowed_types …) from this glance-api.conf')
      .addHelpText(
        'after',
        `
Exits 0 when the image would be accepted, 1 when it would be refused.

Examples:
  glimpse image inspect cirros.qcow2
  glimpse image inspect --disk-format raw disk.img
  glimpse image inspect -f json -c verdict -c virtual_size vm.vmdk`,
      ),
  ).action(inspect);
}
