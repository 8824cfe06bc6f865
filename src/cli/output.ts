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

/** cliff's table (prettytable): `numeric` columns right-aligned, everything else left. */
function table(header: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...r[i].split('\n').map((l) => l.length)))));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  // prettytable aligns a numeric column's header with its numbers.
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [line, fmt(header), line, ...rows.map(fmt), line].join('\n');
}

/**
 * One csv line as cliff writes it with Python's csv module: lists as Python
 * prints them, booleans as True/False, and numbers (booleans too: they are
 * numbers to Python) left unquoted by the default `nonnumeric` quoting.
 */
function csvLine(values: Value[], quote = 'nonnumeric'): string {
  return values
    .map((v) => {
      const text = Array.isArray(v) ? pythonValue(v) : cell(v);
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

/** A value inside a list or dict as Python's repr() prints it. */
function pythonValue(v: Value): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return pythonRepr(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `[${v.map(pythonValue).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, Value>).map(([k, x]) => `${pythonRepr(k)}: ${pythonValue(x)}`).join(', ')}}`;
  return String(v);
}

/**
 * As cliff's value and shell formatters print a cell: the machine-readable
 * value through Python's str(), so None for a missing one, and lists and
 * dicts as Python prints them.
 */
const valueCell = (v: Value) => (typeof v === 'string' ? v : pythonValue(v));

/**
 * As cliff's yaml formatter (PyYAML's safe_dump): keys sorted by code point,
 * YAML 1.1 (so strings that read as timestamps or booleans are quoted),
 * single quotes, list items level with their key.
 */
const yaml = (data: unknown) => toYaml(data, { version: '1.1', singleQuote: true, indentSeq: false, sortMapEntries: (a, b) => (String(a.key) < String(b.key) ? -1 : String(a.key) > String(b.key) ? 1 : 0) });

/** One record: Field/Value rows. */
export function printRecord(record: Record<string, Value>, o: OutputOptions, out = process.stdout): void {
  const keys = chosen(Object.keys(record).sort(), o.column);
  const picked = Object.fromEntries(keys.map((k) => [k, record[k]]));
  switch (o.format ?? 'table') {
    case 'json':
      out.write(`${JSON.stringify(picked, null, 2)}\n`);
      return;
    case 'yaml':
      out.write(yaml(picked));
      return;
    case 'value':
      out.write(keys.map((k) => `${valueCell(record[k])}\n`).join(''));
      return;
    case 'shell':
      out.write(keys.map((k) => `${shellName(k)}="${valueCell(record[k]).replace(/(["\\$`])/g, '\\$1')}"\n`).join(''));
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
      out.write(picked.length ? yaml(picked.map((r) => Object.fromEntries(cols.map((c, i) => [c, r[i]])))) : '[]\n');
      return;
    case 'value':
      out.write(picked.map((r) => `${r.map(valueCell).join(' ')}\n`).join(''));
      return;
    case 'csv':
      out.write([cols, ...picked].map((r) => `${csvLine(r, o.quote)}\n`).join(''));
      return;
    case 'table': {
      // As cliff: no rows, no table (an empty line); a column's alignment
      // follows the type of its first row's value; a missing value is None.
      if (picked.length === 0) return void out.write('\n');
      const numeric = picked[0].map((v) => typeof v === 'number');
      out.write(`${table(cols, picked.map((r) => r.map((v) => (v === null || v === undefined ? 'None' : cell(v)))), numeric)}\n`);
      return;
    }
    default:
      throw new Error(`unknown output format "${o.format}" for a list`);
  }
}
