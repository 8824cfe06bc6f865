/** `glimpse serve` as a real process: started, waited for, stopped. */
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
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'glimpse'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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
