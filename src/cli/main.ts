#!/usr/bin/env node
/** The `glimpse` command: `serve`, and `manage` for glance-manage's jobs. */
import { Command } from 'commander';
import { imageCommand } from './image.js';
import { manageCommand } from './manage.js';
import { serveCommand } from './serve.js';

const program = new Command()
  .name('glimpse')
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

program.addCommand(serveCommand());
program.addCommand(imageCommand());
program.addCommand(manageCommand());

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

program.parseAsync(globalOptionsLast(process.argv)).catch((err: unknown) => {
  process.stderr.write(`glimpse: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
