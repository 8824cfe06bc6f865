/**
 * openstackclient's (cliff's) output formats: -f table|json|yaml|value|shell|csv
 * and -c COLUMN, for one record (show) or a list.
 */
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';

export interface OutputOptions {
  format?: string;
  column?: string[];
  /** csv quoting, as cliff's --quote: all, minimal, none or nonnumeric (the default). */
  quote?: string;
}

export function withOutputOptions(cmd: Command, formats = ['table', 'json', 'yaml', 'value', 'shell', 'csv']): Command {
  return cmd
    .option('-f, --format <format>', `output format: ${formats.join(', ')}`, 'table')
    .option('-c, --column <column>', 'show only this column (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--quote <quote>', 'csv quoting: all, minimal, none or nonnumeric', 'nonnumeric');
}

type Value = unknown;

/** How cliff prints a cell for humans: lists comma-joined, dicts as k='v'. */
function cell(v: Value): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'object') return Object.entries(v as Record<string, Value>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}='${cell(x)}'`).join(', ');
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** cliff's table: numbers right-aligned (a column whose values are all numbers), everything else left. */
function table(header: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r[i].split('\n').map((l) => l.length)))));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const fmt = (cells: string[], isHeader = false) =>
    `| ${cells.map((c, i) => (numeric[i] && !isHeader ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [line, fmt(header, true), line, ...rows.map((r) => fmt(r)), line].join('\n');
}

/**
 * One csv line as cliff writes it with Python's csv module: lists as Python
 * prints them, booleans as True/False, and numbers (booleans too: they are
 * numbers to Python) left unquoted by the default `nonnumeric` quoting.
 */
function csvLine(values: Value[], quote = 'nonnumeric'): string {
  return values
    .map((v) => {
      const text = Array.isArray(v) ? `[${v.map((x) => pythonRepr(String(x))).join(', ')}]` : cell(v);
      const numeric = typeof v === 'number' || typeof v === 'boolean';
      const special = /[",\r\n]/.test(text);
      switch (quote) {
        case 'all':
          return `"${text.replace(/"/g, '""')}"`;
        case 'minimal':
          return special ? `"${text.replace(/"/g, '""')}"` : text;
        case 'none':
          return text.replace(/([",\\])/g, '\\$1');
        case 'nonnumeric':
          return numeric ? text : `"${text.replace(/"/g, '""')}"`;
        default:
          throw new Error(`unknown --quote "${quote}": all, minimal, none or nonnumeric`);
      }
    })
    .join(',');
}

/** A string as Python's repr() prints it: single quotes, unless it holds one and no double quote. */
function pythonRepr(s: string): string {
  const escaped = s.replace(/\\/g, '\\\\');
  if (s.includes("'") && !s.includes('"')) return `"${escaped}"`;
  return `'${escaped.replace(/'/g, "\\'")}'`;
}

const shellName = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

/**
 * The columns -c asks for, in the data's own order (as cliff keeps them,
 * whatever order -c names them in); a name that is no column is an error.
 */
function chosen(columns: string[], asked: string[] | undefined): string[] {
  if (!asked?.length) return columns;
  const unknown = asked.filter((c) => !columns.includes(c));
  if (unknown.length) throw new Error(`No recognized column names in ${unknown.join(', ')}. Recognized columns are: ${columns.join(', ')}`);
  return columns.filter((c) => asked.includes(c));
}

/** As cliff's value formatter prints a missing value. */
const valueCell = (v: Value) => (v === null || v === undefined ? 'None' : cell(v));

/** One record: Field/Value rows. */
export function printRecord(record: Record<string, Value>, o: OutputOptions, out = process.stdout): void {
  const keys = chosen(Object.keys(record).sort(), o.column);
  const picked = Object.fromEntries(keys.map((k) => [k, record[k]]));
  switch (o.format ?? 'table') {
    case 'json':
      out.write(`${JSON.stringify(picked, null, 2)}\n`);
      return;
    case 'yaml':
      out.write(toYaml(picked));
      return;
    case 'value':
      out.write(keys.map((k) => `${valueCell(record[k])}\n`).join(''));
      return;
    case 'shell':
      out.write(keys.map((k) => `${shellName(k)}="${cell(record[k]).replace(/(["\\$`])/g, '\\$1')}"\n`).join(''));
      return;
    case 'csv':
      out.write(`${csvLine(keys, o.quote)}\n${csvLine(keys.map((k) => record[k]), o.quote)}\n`);
      return;
    case 'table':
      out.write(`${table(['Field', 'Value'], keys.map((k) => [k, cell(record[k])]))}\n`);
      return;
    default:
      throw new Error(`unknown output format "${o.format}"`);
  }
}

/** A list: one row per item, in the given column order. */
export function printList(columns: string[], rows: Value[][], o: OutputOptions, out = process.stdout): void {
  const cols = chosen(columns, o.column);
  const idx = cols.map((c) => columns.indexOf(c));
  const picked = rows.map((r) => idx.map((i) => r[i]));
  switch (o.format ?? 'table') {
    case 'json':
      out.write(`${JSON.stringify(picked.map((r) => Object.fromEntries(cols.map((c, i) => [c, r[i]]))), null, 2)}\n`);
      return;
    case 'yaml':
      out.write(picked.length ? toYaml(picked.map((r) => Object.fromEntries(cols.map((c, i) => [c, r[i]])))) : '[]\n');
      return;
    case 'value':
      out.write(picked.map((r) => `${r.map(valueCell).join(' ')}\n`).join(''));
      return;
    case 'csv':
      out.write([cols, ...picked].map((r) => `${csvLine(r, o.quote)}\n`).join(''));
      return;
    case 'table':
      const numeric = cols.map((_, i) => picked.length > 0 && picked.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined) && picked.some((r) => typeof r[i] === 'number'));
      out.write(`${table(cols, picked.map((r) => r.map(cell)), numeric)}\n`);
      return;
    default:
      throw new Error(`unknown output format "${o.format}" for a list`);
  }
}
