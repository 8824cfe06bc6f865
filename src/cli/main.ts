#!/usr/bin/env node
/** The `glimpse` command: `serve`, and `manage` for glance-manage's jobs. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('glimpse')
  .version(version)
  .description('Glimpse: an image service for clouds, speaking the OpenStack Glance Images API v2')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Examples:
  glimpse serve                                   serve on 127.0.0.1:9292, data in ./data
  glimpse serve --config /etc/glance/glance-api.conf
  glimpse manage db sync --database sqlite:////var/lib/glimpse/glimpse.sqlite
  glimpse image list --os-auth-type none --os-endpoint http://127.0.0.1:9292`,
  );

/**
 * Each command's module is loaded only when that command runs: `glimpse
 * image list` need not load the server, the database drivers or the stores.
 * Help, and an unknown command, load them all.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand(),
  image: async () => (await import('./image.js')).imageCommand(),
  manage: async () => (await import('./manage.js')).manageCommand(),
  cache: async () => (await import('./cache.js')).cacheCommand(),
  family: async () => (await import('./family.js')).familyCommand(),
};

/**
 * openstackclient takes its global `--os-*` options before the command too
 * (`openstack --os-cloud x image list`): those are moved behind the
 * command, where each `glimpse image …` command reads them.
 */
function globalOptionsLast(argv: string[]): string[] {
  const [node, script, ...rest] = argv;
  const leading: string[] = [];
  while (rest.length && rest[0].startsWith('--os-')) {
    const flag = rest.shift()!;
    leading.push(flag);
    if (!flag.includes('=') && rest.length) leading.push(rest.shift()!);
  }
  return [node, script, ...rest, ...leading];
}

const argv = globalOptionsLast(process.argv);
const named = argv[2] !== undefined && Object.hasOwn(COMMANDS, argv[2]) ? [argv[2]] : Object.keys(COMMANDS);
for (const name of named) program.addCommand(await COMMANDS[name]());

program.parseAsync(argv).catch((err: unknown) => {
  process.stderr.write(`glimpse: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
