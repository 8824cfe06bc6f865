/** `glimpse manage metadefs load|unload|export`, and glance-manage's spellings of them. */
import { Command } from 'commander';
import { Policy } from '../auth/policy.js';
import type { CliOptions } from '../config/config.js';
import { openDatabase } from '../db/connection.js';
import { MetadefsRepository } from '../db/metadefs-repo.js';
import { BUILTIN_CATALOG, exportMetadefs, loadMetadefs } from '../services/metadef-files.js';
import { MetadefsService } from '../services/metadefs.js';
import { SILENT } from '../notify/notifier.js';
import { configFrom, withCommonOptions } from './common.js';

interface MetadefOptions extends CliOptions {
  path?: string;
  merge?: boolean;
  preferNew?: boolean;
  overwrite?: boolean;
}

async function withRepo<T>(options: CliOptions, fn: (repo: MetadefsRepository, config: ReturnType<typeof configFrom>) => Promise<T>): Promise<T> {
  const config = configFrom(options);
  const db = openDatabase(config.database);
  try {
    return await fn(new MetadefsRepository(db), config);
  } finally {
    await db.close();
  }
}

export async function load(options: MetadefOptions): Promise<void> {
  await withRepo(options, async (repo, config) => {
    const source = options.path ?? config.metadataSourcePath ?? BUILTIN_CATALOG;
    const report = await loadMetadefs(repo, source, options);
    for (const e of report.errors) process.stderr.write(`skipped unreadable file ${e}\n`);
    process.stdout.write(
      `Loaded ${report.loaded.length} namespaces, merged ${report.merged.length}, skipped ${report.skipped.length} that exist (use --merge) from ${source}\n`,
    );
  });
}

export async function unload(options: CliOptions): Promise<void> {
  await withRepo(options, async (repo) => {
    await repo.unloadAll();
    process.stdout.write('Removed every metadata definition (namespaces, properties, objects, tags, resource types)\n');
  });
}

export async function exportTo(options: MetadefOptions): Promise<void> {
  await withRepo(options, async (repo, config) => {
    const target = options.path ?? config.metadataSourcePath;
    if (!target) throw new Error('give --path (or set [DEFAULT] metadata_source_path) to say where to export');
    const files = await exportMetadefs(repo, new MetadefsService({ repo, policy: new Policy(), notify: SILENT }), target);
    process.stdout.write(`Exported ${files.length} namespaces to ${target}\n`);
  });
}

const loadOptions = (cmd: Command) =>
  cmd
    .option('--path <dir-or-file>', "a JSON file or a directory of them (default [DEFAULT] metadata_source_path, else Glimpse's built-in catalog)")
    .option('--merge', 'merge into namespaces that already exist (new children only)')
    .option('--prefer-new', 'with --merge: the files win over what is in the database')
    .option('--overwrite', 'with --merge: replace existing namespaces entirely');

export function metadefsCommand(): Command {
  const metadefs = new Command('metadefs').description('the metadata definitions catalog (glance-manage db load_metadefs …)');
  const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
  metadefs.addCommand(
    withCommonOptions(loadOptions(new Command('load').description('load namespaces from Glance-format JSON files')))
      .addHelpText('after', examples('glimpse manage metadefs load', 'glimpse manage metadefs load --path /etc/glance/metadefs --merge --prefer-new'))
      .action(load),
  );
  metadefs.addCommand(
    withCommonOptions(new Command('unload').description('delete every metadata definition')).addHelpText('after', examples('glimpse manage metadefs unload')).action(unload),
  );
  metadefs.addCommand(
    withCommonOptions(new Command('export').description('write one JSON file per namespace').option('--path <dir>', 'target directory'))
      .addHelpText('after', examples('glimpse manage metadefs export --path /tmp/metadefs/'))
      .action(exportTo),
  );
  return metadefs;
}

/** glance-manage's spellings: `db load_metadefs --path P --merge …` and positional `db_load_metadefs [path [merge [prefer_new [overwrite]]]]`. */
export function glanceManageSpellings(db: Command): void {
  const truthy = (v?: string) => v !== undefined && /^(true|1|yes|y|t|on)$/i.test(v);
  for (const name of ['load_metadefs', 'db_load_metadefs']) {
    db.addCommand(
      withCommonOptions(loadOptions(new Command(name).description('same as "metadefs load"').argument('[path]').argument('[merge]').argument('[prefer_new]').argument('[overwrite]')))
        .option('--prefer_new', 'same as --prefer-new')
        .action((path: string | undefined, merge: string | undefined, preferNew: string | undefined, overwrite: string | undefined, options: MetadefOptions & { prefer_new?: boolean }) =>
          load({
            ...options,
            path: options.path ?? path,
            merge: options.merge || truthy(merge),
            preferNew: options.preferNew || options.prefer_new || truthy(preferNew),
            overwrite: options.overwrite || truthy(overwrite),
          }),
        ),
      { hidden: true },
    );
  }
  for (const name of ['unload_metadefs', 'db_unload_metadefs']) {
    db.addCommand(withCommonOptions(new Command(name).description('same as "metadefs unload"')).action(unload), { hidden: true });
  }
  for (const name of ['export_metadefs', 'db_export_metadefs']) {
    db.addCommand(
      withCommonOptions(new Command(name).description('same as "metadefs export"').argument('[path]').option('--path <dir>', 'target directory')).action(
        (path: string | undefined, options: MetadefOptions) => exportTo({ ...options, path: options.path ?? path }),
      ),
      { hidden: true },
    );
  }
}
