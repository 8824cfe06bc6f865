/**
 * The operator's policy file (`[oslo_policy] policy_file`, YAML or JSON): a
 * map of rule name → oslo.policy check string, overriding Glance's defaults.
 * Only read here; the policy engine parses the check strings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './validate.js';

export function readPolicyFile(file: string): Record<string, string> {
  const text = readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`policy file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`policy file ${file} must map rule names to check strings`);
  const rules: Record<string, string> = {};
  for (const [name, rule] of Object.entries(data as Record<string, unknown>)) {
    if (typeof rule !== 'string') throw new ConfigError(`policy file ${file}: rule "${name}" must be a string`);
    rules[name] = rule;
  }
  return rules;
}

/** Glance's lookup: an explicit path, else policy.yaml (or .json) beside the config file; none is fine. */
export function findPolicyFile(configured: string | undefined, configDir: string | null, resolve: (p: string) => string): string | null {
  if (configured) {
    const file = resolve(configured);
    if (existsSync(file)) return file;
    if (configured !== 'policy.yaml') throw new ConfigError(`[oslo_policy] policy_file ${file} does not exist`);
  }
  if (!configDir) return null;
  for (const name of ['policy.yaml', 'policy.json']) {
    const file = `${configDir}/${name}`;
    if (existsSync(file)) return file;
  }
  return null;
}
