/** `glimpse serve`: the API server. */
import cluster from 'node:cluster';
import { Command } from 'commander';
import type { CliOptions } from '../config/config.js';
import { compose, createLogger, listen } from '../server.js';
import { configFrom, withCommonOptions } from './common.js';
import { onWorkerStop, runPrimary, workerIndex, workerPort } from './workers.js';

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('serve the Images API v2, the Metadefs API and the web dashboard (/dashboard)')
    .option('--bind <host:port>', 'address to listen on (glance-api.conf bind_host/bind_port; default 127.0.0.1:9292)')
    .option('--auth <mode>', 'noauth | headers | keystone ([paste_deploy] flavor)')
    .option('--insecure', 'allow noauth on a non-loopback address')
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option('--no-dashboard', 'do not serve the web dashboard at /dashboard')
    .option('--workers <n>', 'API processes sharing the port ([DEFAULT] workers; default one per CPU; 0 or 1: one)')
    .addHelpText(
      'after',
      `
Examples:
  glimpse serve
  glimpse serve --bind 0.0.0.0:9292 --auth headers --database sqlite:////var/lib/glimpse/glimpse.sqlite
  openstack --os-auth-type none --os-endpoint http://127.0.0.1:9292 image list`,
    );
  return withCommonOptions(cmd).action(async (options: CliOptions) => {
    const config = configFrom(options, 'serve');
    const logger = createLogger(config.logLevel);
    if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, logger);
    const index = workerIndex();
    let server: Awaited<ReturnType<typeof listen>> | null = null;
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, 'shutting down');
      // Told to stop before serving (a worker just started): nothing to finish.
      if (!server) process.exit(0);
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    if (index !== null) onWorkerStop(stop);
    else {
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    }
    const port = workerPort() ?? config.bindPort;
    server = await listen(await compose(config, logger, { leader: index === null || index === 0 }), { ...config, bindPort: port });
    const dashboard = config.enableDashboard ? `${server.url}/dashboard/` : undefined;
    logger.info({ url: server.url, dashboard, auth: config.auth, database: server.db.description, data_dir: config.dataDir, worker: index ?? undefined }, 'glimpse is serving');
  });
}
