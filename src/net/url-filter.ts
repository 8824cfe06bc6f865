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

/** An IPv6 address as its 16 bytes (dotted-quad tails included), or null if it is not one. */
function ipv6Bytes(address: string): number[] | null {
  let text = address;
  const tail: number[] = [];
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    tail.push(...quad.slice(1).map(Number));
    if (tail.some((b) => b > 255)) return null;
    text = `${text.slice(0, quad.index)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...head, ...Array<string>(missing).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 255);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

const startsWith = (bytes: number[], prefix: number[]) => prefix.every((b, i) => bytes[i] === b);
const zeros = (n: number) => Array<number>(n).fill(0);

/**
 * IPv4 addresses hidden inside IPv6 ones, in every form a stack may route
 * to them: IPv4-compatible (::a.b.c.d), mapped (::ffff:a.b.c.d), translated
 * (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
 */
function embeddedIpv4(bytes: number[]): string | null {
  const last4 = bytes.slice(12).join('.');
  if (startsWith(bytes, zeros(12))) return last4;
  if (startsWith(bytes, [...zeros(10), 0xff, 0xff])) return last4;
  if (startsWith(bytes, [...zeros(8), 0xff, 0xff, 0, 0])) return last4;
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, ...zeros(8)])) return last4;
  if (startsWith(bytes, [0x20, 0x02])) return bytes.slice(2, 6).join('.');
  return null;
}

/** Teredo (2001::/32) hides an obfuscated IPv4 address, and local NAT64 (64:ff9b:1::/48) reaches the local network. */
const TUNNELS = [[0x20, 0x01, 0, 0], [0, 0x64, 0xff, 0x9b, 0, 1]];

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, 'ipv4');
  if (family !== 6) return true;
  const bytes = ipv6Bytes(address);
  if (!bytes) return true;
  const v4 = embeddedIpv4(bytes);
  if (v4) return INTERNAL.check(v4, 'ipv4');
  if (TUNNELS.some((prefix) => startsWith(bytes, prefix))) return true;
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
    if (all.length > 0) return all.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
  } catch {
    // Falls through: a name that does not resolve is refused like one with no address.
  }
  throw new UrlRefused(`host ${host} does not resolve`);
}

/** Glance's rule: a non-empty allow list is the only one that counts; else the deny list. */
function pass<T>(value: T, allowed: T[], disallowed: T[]): boolean {
  if (allowed.length > 0) return allowed.includes(value);
  return !disallowed.includes(value);
}
