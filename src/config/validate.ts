/**
 * Every start-up check of a configuration, in one place: settings that
 * contradict each other, and what they need of this machine. loadConfig runs
 * them, so a bad configuration stops `glimpse` before anything opens.
 */
import { spawnSync } from 'node:child_process';
import { getHashes } from 'node:crypto';
import type { GlimpseConfig } from './options.js';

/** A configuration Glimpse cannot run with: the message names the key and the fix. */
export class ConfigError extends Error {}

/** `serve` also checks what only a serving process needs (exposure, qemu-img); tools such as `manage` skip those. */
export type ConfigPurpose = 'serve' | 'tool';

export function validateConfig(config: GlimpseConfig, purpose: ConfigPurpose): void {
  if (purpose === 'serve' && config.auth === 'noauth' && !isLoopback(config.bindHost) && !config.insecure) {
    throw new ConfigError(
      `refusing to serve without authentication on ${config.bindHost}: every caller would be an administrator. ` +
        'Bind to 127.0.0.1, use --auth headers|keystone, or pass --insecure if you really mean it.',
    );
  }
  if (config.auth === 'keystone' && !config.keystone) {
    throw new ConfigError('--auth keystone needs a [keystone_authtoken] section with auth_url, username, password and project_name');
  }
  if (config.limits && 'keystoneEndpointId' in config.limits && !config.limits.credentials && !config.keystone) {
    throw new ConfigError('use_keystone_limits reads the limits with the [keystone_authtoken] credentials: configure that section');
  }
  for (const store of config.stores) {
    if (store.type !== 'swift') continue;
    if (store.swift.tenancy && config.auth !== 'keystone') {
      throw new ConfigError("swift_store_multi_tenant needs --auth keystone: each image's data is written and read with its caller's token");
    }
    if (!store.swift.tenancy && !store.swift.auth) throw new ConfigError(`Swift store ${store.id}: single-tenant mode needs credentials`);
  }
  if (!getHashes().includes(config.hashingAlgorithm)) throw new ConfigError(`hashing_algorithm "${config.hashingAlgorithm}" is not available`);
  if (purpose === 'serve' && config.conversionOutputFormat && spawnSync('qemu-img', ['--version']).status !== 0) {
    throw new ConfigError('the image_conversion import plugin needs qemu-img (Debian: apt-get install qemu-utils)');
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
