/** Options shared by every command that works on a server's database and data directory. */
import type { Command } from 'commander';
import { type CliOptions, loadConfig } from '../config/config.js';
import type { GlimpseConfig } from '../config/options.js';
import type { ConfigPurpose } from '../config/validate.js';

export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'glance-api.conf-style INI file (Glance section and key names)')
    .option('--data-dir <dir>', 'directory for the embedded database, images and staging (default ./data)')
    .option('--database <url>', 'database URL in SQLAlchemy form (default sqlite in the data dir)');
}

export function configFrom(options: CliOptions, purpose: ConfigPurpose = 'tool'): GlimpseConfig {
  return loadConfig(options, purpose);
}
