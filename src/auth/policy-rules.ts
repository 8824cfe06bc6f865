/**
 * oslo.policy check strings: parsing and evaluation.
 *
 * Grammar (as oslo.policy): `@` (always), `!` (never), `rule:NAME`, `role:NAME`,
 * `KEY:VALUE` generic checks where VALUE may be `%(target_key)s` or a literal,
 * and `'literal':%(target_key)s`; combined with `not`, `and`, `or` and
 * parentheses (precedence not > and > or). An empty string always passes.
 */
export type Target = Readonly<Record<string, unknown>>;
export interface Credentials {
  readonly roles: readonly string[];
  readonly project_id: string | null;
  readonly user_id: string | null;
  readonly [key: string]: unknown;
}

export type Check =
  | { type: 'true' }
  | { type: 'false' }
  | { type: 'rule'; name: string }
  | { type: 'role'; role: string }
  | { type: 'generic'; key: string; value: string }
  | { type: 'not'; check: Check }
  | { type: 'and'; checks: Check[] }
  | { type: 'or'; checks: Check[] };

export class PolicyParseError extends Error {}

function tokenize(rule: string): string[] {
  const tokens: string[] = [];
  for (const raw of rule.split(/\s+/)) {
    if (!raw) continue;
    let word = raw;
    while (word.startsWith('(')) {
      tokens.push('(');
      word = word.slice(1);
    }
    const closers: string[] = [];
    while (word.endsWith(')')) {
      closers.push(')');
      word = word.slice(0, -1);
    }
    if (word) tokens.push(word);
    tokens.push(...closers);
  }
  return tokens;
}

export function parseRule(rule: string): Check {
  const tokens = tokenize(rule.trim());
  if (tokens.length === 0) return { type: 'true' };
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++];

  const parseOr = (): Check => {
    const checks = [parseAnd()];
    while (peek()?.toLowerCase() === 'or') {
      take();
      checks.push(parseAnd());
    }
    return checks.length === 1 ? checks[0] : { type: 'or', checks };
  };
  const parseAnd = (): Check => {
    const checks = [parseNot()];
    while (peek()?.toLowerCase() === 'and') {
      take();
      checks.push(parseNot());
    }
    return checks.length === 1 ? checks[0] : { type: 'and', checks };
  };
  const parseNot = (): Check => {
    if (peek()?.toLowerCase() === 'not') {
      take();
      return { type: 'not', check: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): Check => {
    const token = take();
    if (token === undefined) throw new PolicyParseError(`unexpected end of rule "${rule}"`);
    if (token === '(') {
      const inner = parseOr();
      if (take() !== ')') throw new PolicyParseError(`missing ")" in rule "${rule}"`);
      return inner;
    }
    return parseCheck(token, rule);
  };

  const check = parseOr();
  if (pos !== tokens.length) throw new PolicyParseError(`unexpected "${tokens[pos]}" in rule "${rule}"`);
  return check;
}

function parseCheck(token: string, rule: string): Check {
  if (token === '@') return { type: 'true' };
  if (token === '!') return { type: 'false' };
  const colon = token.indexOf(':');
  if (colon <= 0) throw new PolicyParseError(`invalid check "${token}" in rule "${rule}"`);
  const kind = token.slice(0, colon);
  const value = token.slice(colon + 1);
  if (kind === 'rule') return { type: 'rule', name: value };
  if (kind === 'role') return { type: 'role', role: value.toLowerCase() };
  return { type: 'generic', key: kind, value };
}

/** `%(name)s` interpolation from the target, as Python's `%` operator does. */
function interpolate(template: string, target: Target): string | undefined {
  let missing = false;
  const out = template.replace(/%\((\w+)\)s/g, (_m, name: string) => {
    const v = Object.hasOwn(target, name) ? target[name] : undefined;
    if (v === undefined || v === null) {
      missing = true;
      return '';
    }
    return String(v);
  });
  return missing ? undefined : out;
}

function literal(key: string): string | undefined {
  if (/^'.*'$/.test(key) || /^".*"$/.test(key)) return key.slice(1, -1);
  if (key === 'True' || key === 'False') return key;
  if (/^-?\d+(\.\d+)?$/.test(key)) return key;
  return undefined;
}

export function evaluate(
  check: Check,
  target: Target,
  creds: Credentials,
  lookupRule: (name: string) => Check | undefined,
  depth = 0,
): boolean {
  if (depth > 50) throw new PolicyParseError('policy rules refer to each other in a loop');
  switch (check.type) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluate(check.check, target, creds, lookupRule, depth);
    case 'and':
      return check.checks.every((c) => evaluate(c, target, creds, lookupRule, depth));
    case 'or':
      return check.checks.some((c) => evaluate(c, target, creds, lookupRule, depth));
    case 'rule': {
      const named = lookupRule(check.name);
      return named ? evaluate(named, target, creds, lookupRule, depth + 1) : false;
    }
    case 'role': {
      const role = check.role.includes('%(') ? interpolate(check.role, target)?.toLowerCase() : check.role;
      return role !== undefined && creds.roles.includes(role);
    }
    case 'generic': {
      const match = interpolate(check.value, target);
      if (match === undefined) return false;
      const lit = literal(check.key);
      if (lit !== undefined) return lit === match;
      const actual = creds[check.key];
      if (actual === undefined || actual === null) return false;
      return Array.isArray(actual) ? actual.map(String).includes(match) : String(actual) === match;
    }
  }
}
