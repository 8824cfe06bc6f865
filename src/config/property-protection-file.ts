/**
 * The operator's property protection file (`property_protection_file`): an
 * INI file whose sections are property-name patterns, each with a create,
 * read, update and delete rule. Only read here; auth parses the rules.
 */
import { readFileSync } from 'node:fs';
import { parseIni } from './ini.js';
import type { PropertyOperation, PropertyProtectionSection } from './options.js';
import { ConfigError } from './validate.js';

const OPERATIONS: readonly PropertyOperation[] = ['create', 'read', 'update', 'delete'];

export function readPropertyProtectionFile(file: string): PropertyProtectionSection[] {
  let ini;
  try {
    ini = parseIni(readFileSync(file, 'utf8'), file);
  } catch (err) {
    throw new ConfigError(`property_protection_file ${file}: ${(err as Error).message}`);
  }
  const sections: PropertyProtectionSection[] = [];
  for (const [pattern, keys] of ini) {
    if (pattern === 'DEFAULT') continue;
    const rules = {} as Record<PropertyOperation, string>;
    for (const op of OPERATIONS) {
      const value = keys.get(op)?.at(-1);
      if (value === undefined) throw new ConfigError(`property_protection_file ${file}: [${pattern}] lacks "${op}"`);
      rules[op] = value;
    }
    sections.push({ pattern, rules });
  }
  return sections;
}
