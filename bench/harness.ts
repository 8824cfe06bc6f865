/** Benchmark plumbing: a real server process on loopback, timed request loops, a printed table. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BenchServer {
  url: string;
  pid: number;
  dataDir: string;
  /** Resident set size of the server process, in bytes (from /proc). */
  rss(): number;
  stop(): Promise<void>;
}

/** A Glimpse process with `extraArgs`; on `shared`, another server's data directory, left in place at stop. */
export async function startBenchServer(extraArgs: string[] = [], shared?: string): Promise<BenchServer> {
  const dataDir = shared ?? mkdtempSync(path.join(tmpdir(), 'glimpse-bench-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'glimpse'), 'serve', '--data-dir', dataDir, '--bind', '127.0.0.1:0', '--log-level', 'warn', ...(extraArgs.includes('--workers') ? [] : ['--workers', '1']), ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
    child.stdout!.resume();
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    const poll = setInterval(() => {
      const port = listeningPort(child.pid!);
      if (port) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    }, 50);
  });
  return {
    url,
    pid: child.pid!,
    dataDir,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    stop: async () => {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
      if (!shared) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The TCP port a process listens on, read from /proc (no log parsing needed). */
function listeningPort(pid: number): number | null {
  try {
    const inodes = new Set<string>();
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of readdirSync(fdDir)) {
      try {
        const link = readlinkSync(path.join(fdDir, fd));
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) inodes.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[3] === '0A' && inodes.has(cols[9])) return parseInt(cols[1].split(':')[1], 16);
    }
  } catch {
    /* not up yet */
  }
  return null;
}

export interface Result {
  name: string;
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  extra?: string;
}

/** Runs `total` calls of `fn` with `concurrency` in flight; latencies in ms. */
export async function measure(name: string, total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { name, requests: total, seconds, p50: pct(50), p99: pct(99) };
}

export function printTable(title: string, results: Result[]): void {
  const rows = results.map((r) => [
    r.name,
    String(r.requests),
    (r.requests / r.seconds).toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.extra ?? '',
  ]);
  const head = ['operation', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'notes'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

export async function call(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status >= 400) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}
