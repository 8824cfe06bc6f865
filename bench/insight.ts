/**
 * Image insight's cost on this machine: wall time and peak memory of one
 * inspection (7zz and the Node process together) per guest image and per
 * GiB of its data, and images per hour at the default concurrency of one;
 * libguestfs's virt-inspector beside it on the same image when installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestsDir, guestsSkip } from '../test/helpers/guests.js';

const ONE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'insight-one.js');
const RUNS = 3;

interface Measured {
  seconds: number;
  rssMiB: number;
  os: string;
}

function measure(command: string[], env: Record<string, string> = {}): Measured {
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', ...command], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  const [seconds, kib] = run.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  const os = /"os_distro":"([^"]+)"/.exec(run.stdout)?.[1] ?? /<distro>([^<]+)<\/distro>/.exec(run.stdout)?.[1] ?? (run.status === 0 ? 'none found' : `failed (${run.status})`);
  return { seconds, rssMiB: kib / 1024, os };
}

export async function insightBenchmarks(): Promise<void> {
  if (guestsSkip()) return;
  const dir = guestsDir();
  const scratch = mkdtempSync(path.join(tmpdir(), 'glimpse-bench-insight-'));
  const rows: string[][] = [];
  try {
    for (const name of ['debian12-cloud.qcow2', 'debian12-cloud.raw', 'debian12-plain.qcow2', 'debian12-plain.raw']) {
      const file = path.join(dir, name);
      const runs = Array.from({ length: RUNS }, () => measure([process.execPath, ONE, file, scratch]));
      const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b)[1];
      const data = statSync(file).blocks * 512;
      rows.push([`7zz (Glimpse): ${name}`, (data / 2 ** 20).toFixed(0), seconds.toFixed(2), (seconds / (data / 2 ** 30)).toFixed(2), Math.max(...runs.map((r) => r.rssMiB)).toFixed(0), (3600 / seconds).toFixed(0), runs[0].os]);
    }
    if (existsSync('/usr/bin/guestfish')) {
      // The fallback for what 7zz cannot read: one run, it boots libguestfs's appliance.
      const file = path.join(dir, 'debian12-xfs.qcow2');
      const r = measure([process.execPath, ONE, file, scratch], { GLIMPSE_BENCH_LIBGUESTFS: '1' });
      const data = statSync(file).blocks * 512;
      rows.push(['7zz, then the libguestfs fallback (TCG): debian12-xfs.qcow2', (data / 2 ** 20).toFixed(0), r.seconds.toFixed(2), (r.seconds / (data / 2 ** 30)).toFixed(2), r.rssMiB.toFixed(0), (3600 / r.seconds).toFixed(0), r.os]);
    }
    if (existsSync('/usr/bin/virt-inspector')) {
      const file = path.join(dir, 'debian12-cloud.qcow2');
      const r = measure(['timeout', '300', '/usr/bin/virt-inspector', '--format=qcow2', '-a', file], { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' });
      const data = statSync(file).blocks * 512;
      rows.push(['virt-inspector (libguestfs, TCG): debian12-cloud.qcow2', (data / 2 ** 20).toFixed(0), r.seconds.toFixed(2), (r.seconds / (data / 2 ** 30)).toFixed(2), r.rssMiB.toFixed(0), (3600 / r.seconds).toFixed(0), r.os]);
    } else {
      console.log('\n(virt-inspector is not installed: apt-get install libguestfs-tools linux-image-amd64 to measure it beside)');
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const head = ['inspection', 'data MiB', 'seconds (median)', 's per GiB', 'peak RSS MiB', 'images/hour (1 at a time)', 'OS found'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\nImage insight: one inspection, ${RUNS} runs each (page cache warm after the first)\n`);
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
