/**
 * Which URLs web-download may fetch: Glance's `[import_filtering_opts]`
 * (schemes, hosts, ports; an allow list wins over its deny list) plus the
 * rule Glance lacks: the addresses a host resolves to must not be loopback,
 * link-local (cloud metadata at 169.254.169.254), private, or otherwise
 * internal — unless the operator lists that host in `allowed_hosts`. Checked
 * after DNS resolution, and the connection then goes to the vetted address,
 * so a name cannot resolve to something else between check and use.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface ImportFilter {
  allowedSchemes: string[];
  disallowedSchemes: string[];
  allowedHosts: string[];
  disallowedHosts: string[];
  allowedPorts: number[];
  disallowedPorts: number[];
}

export const DEFAULT_IMPORT_FILTER: ImportFilter = {
  allowedSchemes: ['http', 'https'],
  disallowedSchemes: [],
  allowedHosts: [],
  disallowedHosts: [],
  allowedPorts: [80, 443],
  disallowedPorts: [],
};

const INTERNAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32]] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv6');
}

/** IPv4 addresses hidden inside IPv6 ones (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:ab:cd::). */
function embeddedIpv4(address: string): string | null {
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  const groups = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address) ?? /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/i.exec(address);
  if (!groups) return null;
  const [hi, lo] = [parseInt(groups[1], 16), parseInt(groups[2], 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4) return INTERNAL.check(v4, 'ipv4');
  return INTERNAL.check(address, 'ipv6');
}

export class UrlRefused extends Error {}

export interface VettedUrl {
  url: URL;
  /** The address to connect to: the one that was checked. */
  address: string;
  family: 4 | 6;
}

const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/** Checks a URL against the filter and resolves it; throws UrlRefused with the reason. */
export async function vetUrl(raw: string, filter: ImportFilter): Promise<VettedUrl> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('it is not a URL');
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new UrlRefused(`scheme ${scheme} is not fetched`);
  if (!pass(scheme, filter.allowedSchemes, filter.disallowedSchemes)) throw new UrlRefused(`scheme ${scheme} is not allowed`);
  if (url.username || url.password) throw new UrlRefused('credentials in URLs are not accepted');
  const host = bareHost(url);
  if (!pass(host, filter.allowedHosts, filter.disallowedHosts)) throw new UrlRefused(`host ${host} is not allowed`);
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  if (!pass(port, filter.allowedPorts, filter.disallowedPorts)) throw new UrlRefused(`port ${port} is not allowed`);

  const addresses = isIP(host) ? [{ address: host, family: isIP(host) as 4 | 6 }] : await resolve(host);
  const explicitlyAllowed = filter.allowedHosts.map((h) => h.toLowerCase()).includes(host);
  for (const { address } of addresses) {
    if (isInternalAddress(address) && !explicitlyAllowed) {
      throw new UrlRefused(`${host} is ${address === host ? '' : `${address}, `}an internal address (list the host in [import_filtering_opts] allowed_hosts to allow it)`);
    }
  }
  return { url, address: addresses[0].address, family: addresses[0].family };
}

async function resolve(host: string): Promise<{ address: string; family: 4 | 6 }[]> {
  try {
    const all = await lookup(host, { all: true, verbatim: true });
    if (all.length === 0) throw new Error('no address');
    return all.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
  } catch {
    throw new UrlRefused(`host ${host} does not resolve`);
  }
}

/** Glance's rule: a non-empty allow list is the only one that counts; else the deny list. */
function pass<T>(value: T, allowed: T[], disallowed: T[]): boolean {
  if (allowed.length > 0) return allowed.includes(value);
  return !disallowed.includes(value);
}
