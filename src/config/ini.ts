/**
 * oslo.config's INI dialect: `[section]`, `key = value` (or `key: value`),
 * `#`/`;` comment lines, indented continuation lines, repeated keys kept in
 * order (the last one wins for single-valued options).
 */
import { ConfigError } from './validate.js';

export type IniFile = Map<string, Map<string, string[]>>;

export function parseIni(text: string, source = 'config'): IniFile {
  const sections: IniFile = new Map();
  let section: Map<string, string[]> | null = null;
  let lastValues: string[] | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (/^\s*([#;].*)?$/.test(line)) return;
    if (/^\s/.test(line) && lastValues) {
      lastValues[lastValues.length - 1] += `\n${line.trim()}`;
      return;
    }
    const header = /^\[(.+)\]\s*$/.exec(line);
    if (header) {
      const name = header[1].trim();
      section = sections.get(name) ?? new Map();
      sections.set(name, section);
      lastValues = null;
      return;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!pair || !section) throw new ConfigError(`${source}:${index + 1}: cannot parse "${line.trim()}"`);
    const key = pair[1].trim();
    const values = section.get(key) ?? [];
    values.push(pair[2].trim());
    section.set(key, values);
    lastValues = values;
  });
  return sections;
}

/** Typed reads of one parsed file, with oslo.config's value syntax. */
export class IniReader {
  constructor(private readonly ini: IniFile) {}

  has(section: string, key: string): boolean {
    return this.ini.get(section)?.has(key) ?? false;
  }

  sections(): string[] {
    return [...this.ini.keys()];
  }

  str(section: string, key: string): string | undefined {
    const values = this.ini.get(section)?.get(key);
    return values?.[values.length - 1];
  }

  bool(section: string, key: string): boolean | undefined {
    const v = this.str(section, key);
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(lower)) return true;
    if (['false', 'no', '0', 'off'].includes(lower)) return false;
    throw new ConfigError(`[${section}] ${key}: "${v}" is not a boolean`);
  }

  int(section: string, key: string): number | undefined {
    const v = this.str(section, key);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`[${section}] ${key}: "${v}" is not an integer`);
    return Number(v);
  }

  list(section: string, key: string): string[] | undefined {
    const v = this.str(section, key);
    if (v === undefined) return undefined;
    return v
      .replace(/^\[|\]$/g, '')
      .split(',')
      .map((s) => s.trim().replace(/^['"]|['"]$/g, ''))
      .filter(Boolean);
  }

  dict(section: string, key: string): Record<string, string> | undefined {
    const items = this.list(section, key);
    if (!items) return undefined;
    const out: Record<string, string> = {};
    for (const item of items) {
      const colon = item.indexOf(':');
      if (colon <= 0) throw new ConfigError(`[${section}] ${key}: "${item}" is not a key:value pair`);
      out[item.slice(0, colon).trim()] = item.slice(colon + 1).trim();
    }
    return out;
  }
}
