/** The `glimpse` command as real processes: `glimpse serve` started, waited for and stopped; other commands run to their end. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './tools.js';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** What the server has logged on stdout so far (JSON lines). */
  log(): string;
}

/** Starts `glimpse serve ARGS` and resolves once it logs the URL it serves on. */
export function serveProcess(args: string[]): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    // One process unless a test asks for workers: kill -9 then means what the crash suites mean by it.
    const workers = args.includes('--workers') ? [] : ['--workers', '1'];
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'serve', ...workers, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) resolve({ child, url: m[1], log: () => out });
    });
    child.on('exit', (code) => reject(new Error(`glimpse serve exited with ${code}: ${out}`)));
  });
}

export async function stopProcess(server: Pick<ServerProcess, 'child'>, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.child.exitCode;
  const exited = new Promise<number | null>((r) => server.child.on('exit', r));
  server.child.kill(signal);
  return exited;
}

/** Runs `glimpse ARGS` to its end: exit code and everything it printed. */
export function runGlimpse(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
