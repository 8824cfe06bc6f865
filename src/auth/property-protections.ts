/**
 * Glance's property protections (`property_protection_file`): per extra
 * property, which roles (or policy rules) may create, read, update and delete
 * it. Sections are regular expressions matched anywhere in the name, the first
 * matching section decides, and a property no section matches is untouchable.
 */
import { readFileSync } from 'node:fs';
import { parseIni } from '../config/ini.js';
import { forbidden } from '../domain/errors.js';
import type { RequestContext } from './context.js';
import type { Policy } from './policy.js';

export type PropertyOperation = 'create' | 'read' | 'update' | 'delete';
const OPERATIONS: PropertyOperation[] = ['create', 'read', 'update', 'delete'];

type Rule = { kind: 'everyone' } | { kind: 'nobody' } | { kind: 'roles'; roles: string[] } | { kind: 'policy'; rule: string };
interface Section {
  pattern: RegExp;
  rules: Record<PropertyOperation, Rule>;
}

export class PropertyProtections {
  private constructor(
    private readonly sections: Section[],
    private readonly policy: Policy,
  ) {}

  /** Reads the file; any mistake in it stops start-up, as in Glance. */
  static load(file: string, format: 'roles' | 'policies', policy: Policy): PropertyProtections {
    let ini;
    try {
      ini = parseIni(readFileSync(file, 'utf8'), file);
    } catch (err) {
      throw new Error(`property_protection_file ${file}: ${(err as Error).message}`);
    }
    const sections: Section[] = [];
    for (const [name, keys] of ini) {
      if (name === 'DEFAULT') continue;
      let pattern: RegExp;
      try {
        pattern = new RegExp(name);
      } catch {
        throw new Error(`property_protection_file ${file}: [${name}] is not a valid regular expression`);
      }
      const rules = {} as Record<PropertyOperation, Rule>;
      for (const op of OPERATIONS) {
        const value = keys.get(op)?.at(-1);
        if (value === undefined) throw new Error(`property_protection_file ${file}: [${name}] lacks "${op}"`);
        rules[op] = parseRuleValue(value, format, `${file} [${name}] ${op}`);
      }
      sections.push({ pattern, rules });
    }
    return new PropertyProtections(sections, policy);
  }

  allowed(ctx: RequestContext, property: string, op: PropertyOperation): boolean {
    const section = this.sections.find((s) => s.pattern.test(property));
    if (!section) return false;
    const rule = section.rules[op];
    switch (rule.kind) {
      case 'everyone':
        return true;
      case 'nobody':
        return false;
      case 'roles':
        return rule.roles.some((r) => ctx.roles.includes(r));
      case 'policy':
        return this.policy.allowed(ctx, rule.rule, {});
    }
  }

  enforce(ctx: RequestContext, property: string, op: PropertyOperation): void {
    if (!this.allowed(ctx, property, op)) {
      throw forbidden(`Property '${property}' is protected: you are not allowed to ${op} it.`);
    }
  }
}

function parseRuleValue(value: string, format: 'roles' | 'policies', where: string): Rule {
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  if (items.includes('@') && items.includes('!')) throw new Error(`property_protection_file ${where}: "@" and "!" exclude each other`);
  if (items.includes('@')) return { kind: 'everyone' };
  if (items.includes('!') || items.length === 0) return { kind: 'nobody' };
  if (format === 'roles') return { kind: 'roles', roles: items.map((r) => r.toLowerCase()) };
  if (items.length > 1) throw new Error(`property_protection_file ${where}: the policies format takes one rule name, not a list`);
  return { kind: 'policy', rule: items[0] };
}
