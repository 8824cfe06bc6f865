/**
 * `[DEFAULT] workers` as glance-api runs them: N processes serving one port
 * (node:cluster shares the listening socket). The primary prepares the
 * database once (creating the embedded one, so workers never race to),
 * forks the workers, replaces one that dies (its interrupted uploads are
 * recovered as after any crash), and on SIGTERM/SIGINT lets each finish its
 * requests. Worker 0 is the leader that runs the node's once-per-node
 * background work; its replacement takes the role over.
 */
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { Logger } from 'pino';
import type { GlimpseConfig } from '../config/options.js';
import { openAndCheckDatabase } from '../server.js';

/** Seconds a stopping worker gets to finish its requests before it is killed. */
const STOP_GRACE_MS = 30_000;

export async function runPrimary(config: GlimpseConfig, logger: Logger): Promise<void> {
  await (await openAndCheckDatabase(config, logger)).close();
  const port = config.bindPort === 0 ? await freePort(config.bindHost) : config.bindPort;
  const byIndex = new Map<number, Worker>();
  let stopping = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ GLIMPSE_WORKER_INDEX: String(index), GLIMPSE_WORKER_PORT: String(port) });
    byIndex.set(index, worker);
    worker.on('exit', (code, signal) => {
      if (byIndex.get(index) !== worker) return;
      byIndex.delete(index);
      if (stopping) {
        if (byIndex.size === 0) process.exit(0);
        return;
      }
      logger.warn({ worker: index, pid: worker.process.pid, code, signal }, 'a worker died: starting another');
      fork(index);
    });
  };
  for (let index = 0; index < config.workers; index++) fork(index);
  logger.info({ workers: config.workers, pid: process.pid }, 'glimpse primary: workers started');
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down the workers');
    // A signal, not a message: a worker still starting up has no handler yet, and simply ends.
    for (const worker of byIndex.values()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of byIndex.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_GRACE_MS).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** In a worker: stop on SIGTERM (from the primary), or when the primary is gone (killed): a worker never outlives its primary. */
export function onWorkerStop(stop: (reason: string) => void): void {
  // Ctrl-C reaches the whole process group: the primary stops the workers in order.
  process.on('SIGINT', () => undefined);
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('disconnect', () => stop('the primary is gone'));
}

/** With `bind_port = 0`, the port the primary chose, so a replacement worker listens where the others do. */
export function workerPort(): number | null {
  return cluster.isWorker && process.env.GLIMPSE_WORKER_PORT ? Number(process.env.GLIMPSE_WORKER_PORT) : null;
}

/** A port free now on this host (for `bind_port = 0`): every worker is then told the same one. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export function workerIndex(): number | null {
  return cluster.isWorker ? Number(process.env.GLIMPSE_WORKER_INDEX ?? 0) : null;
}
