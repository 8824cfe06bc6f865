/**
 * Glance's property protections (`property_protection_file`): per extra
 * property, which roles (or policy rules) may create, read, update and delete
 * it. Sections are regular expressions matched anywhere in the name, the first
 * matching section decides, and a property no section matches is untouchable.
 */
import type { PropertyOperation, PropertyProtectionConfig } from '../config/options.js';
import { forbidden } from '../domain/errors.js';
import type { RequestContext } from './context.js';
import type { Policy } from './policy.js';

type Rule = { kind: 'everyone' } | { kind: 'nobody' } | { kind: 'roles'; roles: string[] } | { kind: 'policy'; rule: string };
interface Section {
  pattern: RegExp;
  rules: Record<PropertyOperation, Rule>;
}

/** A rule of the property protection file that means nothing: start-up stops, as in Glance. */
export class PropertyProtectionError extends Error {}

export class PropertyProtections {
  private readonly sections: Section[];

  /** Parses every section's rules; any mistake stops start-up, as in Glance. */
  constructor(
    { file, format, sections }: PropertyProtectionConfig,
    private readonly policy: Policy,
  ) {
    this.sections = sections.map(({ pattern, rules }) => {
      const where = `property_protection_file ${file}: [${pattern}]`;
      let regex: RegExp;
      try {
        regex = new RegExp(pattern);
      } catch {
        throw new PropertyProtectionError(`${where} is not a valid regular expression`);
      }
      const parsed = {} as Record<PropertyOperation, Rule>;
      for (const [op, value] of Object.entries(rules) as [PropertyOperation, string][]) parsed[op] = parseRuleValue(value, format, `${where} ${op}`);
      return { pattern: regex, rules: parsed };
    });
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
  if (items.includes('@') && items.includes('!')) throw new PropertyProtectionError(`${where}: "@" and "!" exclude each other`);
  if (items.includes('@')) return { kind: 'everyone' };
  if (items.includes('!') || items.length === 0) return { kind: 'nobody' };
  if (format === 'roles') return { kind: 'roles', roles: items.map((r) => r.toLowerCase()) };
  if (items.length > 1) throw new PropertyProtectionError(`${where}: the policies format takes one rule name, not a list`);
  return { kind: 'policy', rule: items[0] };
}
