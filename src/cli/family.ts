/**
 * `glimpse family …` and `glimpse image lineage`: Glimpse's lifecycle
 * additions from the command line — a family's versions and which one it
 * resolves to, its retention policy with the dry run, and where an image
 * comes from and what was made from it.
 */
import { Command } from 'commander';
import type { Family, Image, Lineage } from '../api/wire-types.js';
import { type OsOptions, ImageApi, osCommand } from './os-client.js';
import { type OutputOptions, printList, printRecord, withOutputOptions } from './output.js';

type Opts = OsOptions & OutputOptions;
interface Retention {
  family: string;
  keep_newest: number | null;
  deprecate_after_days: number | null;
  delete_deprecated_after_days: number | null;
  updated_at: string;
  next: { id: string; name: string | null; action: string; reason: string }[];
}

const familyPath = (family: string) => `/v2/glimpse/families/${encodeURIComponent(family)}`;

async function showFamily(family: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const { latest, versions } = await api.json<Family>('GET', familyPath(family));
  const role = (i: Image) => (i.id === latest?.id ? 'latest' : i.glimpse_deprecated_at ? 'deprecated' : '');
  printList(['ID', 'Name', 'Status', 'Created At', 'Role'], versions.map((i) => [i.id, i.name, i.status, i.created_at, role(i)]), o);
}

/** Each version's next step under the policy, as the schedule would take it. */
function printRetention(r: Retention, o: Opts): void {
  printRecord(
    {
      family: r.family,
      keep_newest: r.keep_newest,
      deprecate_after_days: r.deprecate_after_days,
      delete_deprecated_after_days: r.delete_deprecated_after_days,
      updated_at: r.updated_at,
      next: r.next.map((s) => `${s.action} ${s.id} (${s.name ?? ''}): ${s.reason}`).join('\n'),
    },
    o,
  );
}

const count = (flag: string) => (v: string) => {
  if (v === 'none') return null;
  if (!/^\d+$/.test(v)) throw new Error(`${flag} takes a whole number of 0 or more, or none`);
  return Number(v);
};

async function setRetention(family: string, o: Opts & Record<string, number | null | undefined>): Promise<void> {
  const api = await ImageApi.connect(o);
  const body = { keep_newest: o.keepNewest ?? null, deprecate_after_days: o.deprecateAfterDays ?? null, delete_deprecated_after_days: o.deleteDeprecatedAfterDays ?? null };
  printRetention(await api.json<Retention>('PUT', `${familyPath(family)}/retention`, body), o);
}

async function lineage(nameOrId: string, o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const l = await api.json<Lineage>('GET', `/v2/glimpse/images/${image.id}/lineage`);
  // Oldest ancestor first, then the image, then what was made from it.
  const rows = [
    ...[...l.ancestors].reverse().map((a) => ['ancestor', a.id, a.name, a.status, a.created_at, a.via ?? '']),
    ['image', l.id, l.name, l.status, l.created_at, l.source_url ? `from ${l.source_url}` : ''],
    ...l.descendants.map((d) => ['descendant', d.id, d.name, d.status, d.created_at, d.via ?? '']),
  ];
  printList(['Relation', 'ID', 'Name', 'Status', 'Created At', 'Via'], rows, o);
}

export function lineageCommand(): Command {
  return withOutputOptions(
    osCommand('lineage', "an image's ancestors and descendants, through base_image_ref and glimpse_derived_from (Glimpse)", 'glimpse image lineage my-snapshot').argument('<image>', 'name or id'),
    ['table', 'json', 'yaml', 'value', 'csv'],
  ).action(lineage);
}

export function familyCommand(): Command {
  const family = new Command('family').description("image families: the newest usable version, and a project's retention policy (Glimpse)");
  family.addCommand(
    withOutputOptions(osCommand('show', "a family's versions, newest first, and the one it resolves to", 'glimpse family show debian-12').argument('<family>'), ['table', 'json', 'yaml', 'value', 'csv']).action(showFamily),
  );
  const retention = new Command('retention').description("your project's retention policy for a family, with its dry run");
  retention.addCommand(
    withOutputOptions(osCommand('show', 'the policy, and what the schedule would do next', 'glimpse family retention show debian-12').argument('<family>')).action(async (f: string, o: Opts) =>
      printRetention(await (await ImageApi.connect(o)).json<Retention>('GET', `${familyPath(f)}/retention`), o),
    ),
  );
  retention.addCommand(
    withOutputOptions(osCommand('set', 'set the policy (flags left out mean none); prints the dry run', 'glimpse family retention set --keep-newest 3 --delete-deprecated-after-days 30 debian-12').argument('<family>'))
      .option('--keep-newest <n>', 'deprecate all but the newest N versions', count('--keep-newest'))
      .option('--deprecate-after-days <d>', 'deprecate versions older than D days', count('--deprecate-after-days'))
      .option('--delete-deprecated-after-days <d>', 'delete versions deprecated for D days', count('--delete-deprecated-after-days'))
      .action(setRetention),
  );
  retention.addCommand(
    osCommand('delete', 'remove the policy', 'glimpse family retention delete debian-12')
      .argument('<family>')
      .action(async (f: string, o: Opts) => void (await (await ImageApi.connect(o)).raw('DELETE', `${familyPath(f)}/retention`))),
  );
  family.addCommand(retention);
  return family;
}
