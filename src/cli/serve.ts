/** `glimpse serve`: the API server. */
import { Command } from 'commander';
import type { CliOptions } from '../config/config.js';
import { compose, createLogger, listen } from '../server.js';
import { configFrom, withCommonOptions } from './common.js';

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('serve the Images API v2, the Metadefs API and the web dashboard (/dashboard)')
    .option('--bind <host:port>', 'address to listen on (glance-api.conf bind_host/bind_port; default 127.0.0.1:9292)')
    .option('--auth <mode>', 'noauth | headers | keystone ([paste_deploy] flavor)')
    .option('--insecure', 'allow noauth on a non-loopback address')
    .option('--log-level <level>', 'trace | debug | info | warn | error')
    .option('--no-dashboard', 'do not serve the web dashboard at /dashboard')
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
    const server = await listen(await compose(config, logger), config);
    const dashboard = config.enableDashboard ? `${server.url}/dashboard/` : undefined;
    logger.info({ url: server.url, dashboard, auth: config.auth, database: server.db.description, data_dir: config.dataDir }, 'glimpse is serving');
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
