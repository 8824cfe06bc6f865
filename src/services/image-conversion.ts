/**
 * Glance's `image_conversion` import plugin: before an import writes to its
 * stores, the staged data is inspected (it must be what its disk_format
 * says, and safe), converted with `qemu-img convert` to `[image_conversion]
 * output_format`, and the output inspected again (it must be that format,
 * and safe: this catches a qcow2 hidden in another image's guest data). The
 * image then takes the output's disk_format; its checksums are computed by
 * the store write that follows.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { inspectStream } from '../formats/inspector.js';
import { type ImageFormatRules, detectedFormat, judgeUpload } from '../formats/policy.js';
import { leftBehind } from '../store/leftovers.js';

/** qemu-img's driver names for Glance's disk formats. */
const QEMU_DRIVER: Record<string, string> = { vhd: 'vpc', ploop: 'parallels' };
const CONVERT_TIMEOUT_MS = 30 * 60 * 1000;

export interface ConversionOptions {
  outputFormat: string;
  rules: ImageFormatRules;
}

/** Converts `file` in place; returns the new disk_format, or null when there was nothing to do. */
export async function convertStaged(file: string, diskFormat: string, o: ConversionOptions): Promise<string | null> {
  // Glance keeps ISOs as they are: they are not disk images to convert.
  if (diskFormat === o.outputFormat || diskFormat === 'iso') return null;
  await assertSafe(file, diskFormat, o, 'Image has disallowed configuration');
  const output = `${file}.converted`;
  try {
    await qemuImg(['convert', '-f', QEMU_DRIVER[diskFormat] ?? diskFormat, '-O', QEMU_DRIVER[o.outputFormat] ?? o.outputFormat, file, output]);
    await assertSafe(output, o.outputFormat, o, 'Converted image in unexpected format');
    await rename(output, file);
  } finally {
    await unlink(output).catch(leftBehind(`conversion output ${output}`));
  }
  return o.outputFormat;
}

/** Data the conversion plugin will not take in, or will not hand on: the message becomes the import task's. */
export class ConversionRefused extends Error {}

/** Safe, and exactly that format (partitioned raw counting as raw), as the plugin requires on both sides. */
async function assertSafe(file: string, diskFormat: string, o: ConversionOptions, what: string): Promise<void> {
  const report = await inspectStream(createReadStream(file, { highWaterMark: 1024 * 1024 }), o.rules);
  const verdict = judgeUpload(report, diskFormat, o.rules);
  if (!verdict.accepted) throw new ConversionRefused(`${what}: ${verdict.reason}`);
  const detected = detectedFormat(report).format;
  const same = detected === diskFormat || (diskFormat === 'raw' && detected === 'gpt');
  if (!same) throw new ConversionRefused(`${what}: the data is ${detected}, not ${diskFormat}`);
}

function qemuImg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: CONVERT_TIMEOUT_MS });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new Error(`qemu-img could not run: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`qemu-img convert failed: ${stderr.trim().slice(0, 300)}`))));
  });
}
