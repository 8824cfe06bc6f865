/**
 * `glimpse image insight IMAGE`: what is inside an image and whether it is
 * ready for a cloud (Glimpse's readiness report), its suggested properties,
 * accepting them, and inspecting again.
 */
import { Command } from 'commander';
import type { InsightReport } from '../api/wire-types.js';
import { type OsOptions, ImageApi, osCommand } from './os-client.js';
import { type OutputOptions, printList, printRecord, withOutputOptions } from './output.js';

interface InsightOptions extends OsOptions, OutputOptions {
  findings?: boolean;
  apply?: boolean;
  applyProperty?: string[];
  reinspect?: boolean;
}

async function insight(nameOrId: string, o: InsightOptions): Promise<void> {
  const api = await ImageApi.connect(o);
  const image = await api.findImage(nameOrId);
  const path = `/v2/glimpse/images/${image.id}/insight`;
  if (o.reinspect) {
    const task = await api.json<{ task_id: string; status: string }>('POST', path);
    return printRecord({ image: image.id, task_id: task.task_id, status: task.status }, o);
  }
  const wantsApply = o.apply || (o.applyProperty?.length ?? 0) > 0;
  const report = wantsApply
    ? await api.json<InsightReport>('POST', `${path}/apply`, o.applyProperty?.length ? { properties: o.applyProperty } : {})
    : await api.json<InsightReport>('GET', path);
  if (o.findings || wantsApply) return printFindings(report, o);
  if (!report.checks.length) return printRecord({ image: image.id, status: report.status, task: report.task?.message ?? null }, o);
  printList(['Check', 'Result', 'Explanation', 'Fix'], report.checks.map((c) => [c.title, c.result, c.explanation, c.fix]), o);
}

function printFindings(report: InsightReport, o: InsightOptions): void {
  printRecord(
    {
      image: report.image_id,
      status: report.status,
      inspected_at: report.inspected_at,
      ...report.findings,
      summary: `${report.summary.pass} pass, ${report.summary.warn} warn, ${report.summary.fail} fail`,
      suggested_properties: report.suggested_properties.map((s) => `${s.name}=${s.value}${s.current === null ? '' : ` (now ${s.current})`}`).join('\n'),
    },
    o,
  );
}

export function insightCommand(): Command {
  return withOutputOptions(
    osCommand(
      'insight',
      "an image's readiness report: the OS inside, and each check of the OpenStack image guide with its fix (Glimpse)",
      'glimpse image insight debian-12',
      'glimpse image insight --findings -f yaml debian-12',
      'glimpse image insight --apply debian-12                       set every suggested property not set yet',
      'glimpse image insight --apply-property os_distro debian-12    set this one, even over a value already there',
      'glimpse image insight --reinspect debian-12',
    ).argument('<image>', 'name or id'),
  )
    .option('--findings', 'print the findings and the suggested properties instead of the checks')
    .option('--apply', 'accept every suggested property the image does not carry yet')
    .option('--apply-property <name>', 'accept this suggested property (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--reinspect', 'inspect the image again')
    .action(insight);
}
