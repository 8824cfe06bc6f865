/**
 * How the `glimpse image` commands reach an image service, the way
 * openstackclient does: `--os-*` flags with `OS_*` environment twins; Keystone
 * password or token auth (the image endpoint then comes from the catalog), or
 * no auth with an explicit endpoint.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Command, Help, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { Image, ImageList } from '../api/wire-types.js';
import { type TokenIdentity, type TokenScope, findEndpoint, identityV3, issueToken } from '../net/keystone-client.js';

export interface OsOptions {
  osCloud?: string;
  osAuthType?: string;
  osAuthUrl?: string;
  osUsername?: string;
  osPassword?: string;
  osProjectName?: string;
  osProjectId?: string;
  osUserDomainName?: string;
  osProjectDomainName?: string;
  osToken?: string;
  osEndpoint?: string;
  osInterface?: string;
  osRegionName?: string;
}

const FLAGS: [keyof OsOptions, string, string][] = [
  ['osCloud', '--os-cloud <name>', 'a cloud from clouds.yaml'],
  ['osAuthType', '--os-auth-type <type>', 'password (default when a username is given), token, or none'],
  ['osAuthUrl', '--os-auth-url <url>', 'Keystone URL'],
  ['osUsername', '--os-username <name>', 'user name'],
  ['osPassword', '--os-password <password>', 'password'],
  ['osProjectName', '--os-project-name <name>', 'project to scope the token to'],
  ['osProjectId', '--os-project-id <id>', 'project id to scope the token to'],
  ['osUserDomainName', '--os-user-domain-name <name>', 'domain of the user (default Default)'],
  ['osProjectDomainName', '--os-project-domain-name <name>', 'domain of the project (default Default)'],
  ['osToken', '--os-token <token>', 'an existing token (auth type token)'],
  ['osEndpoint', '--os-endpoint <url>', 'the image service URL, instead of the catalog'],
  ['osInterface', '--os-interface <interface>', 'catalog interface: public, internal or admin (default public)'],
  ['osRegionName', '--os-region-name <region>', 'catalog region'],
];

/**
 * Adds every --os-* flag with its OS_* environment twin. Commander reads the
 * variable itself and help names it without its value, so a password or a
 * token in the environment is never printed.
 */
export function withOsOptions(cmd: Command): Command {
  for (const [key, flag, help] of FLAGS) {
    const env = `OS_${key.slice(2).replace(/(?<=.)[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    cmd.addOption(new Option(flag, help).env(env));
  }
  return cmd;
}

/** What a fetch failure means, in words: the URL and the cause (refused, DNS, TLS, timeout). */
/**
 * A command that talks to an image service: the `--os-*` options, listed in
 * its help after the command's own (they are the same for every command),
 * and examples after its help.
 */
export function osCommand(name: string, description: string, ...examples: string[]): Command {
  return withOsOptions(new Command(name).description(description))
    .configureHelp({
      visibleOptions(cmd) {
        const options = new Help().visibleOptions(cmd);
        const common = (o: Option) => o.long?.startsWith('--os-') ?? false;
        return [...options.filter((o) => !common(o)), ...options.filter(common)];
      },
    })
    .addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`);
}

export function unreachable(url: string, err: unknown, what: string): Error {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (err as { code?: string })?.code;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens there)',
    ENOTFOUND: 'the host name does not resolve (DNS)',
    EAI_AGAIN: 'the host name could not be resolved now (DNS)',
    ETIMEDOUT: 'the connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'no route to the host',
    UND_ERR_SOCKET: 'the connection closed unexpectedly',
  };
  const tls = code && /CERT|SSL|TLS/.test(code) ? `TLS failed (${code}${cause?.message ? `: ${cause.message}` : ''})` : null;
  const reason = tls ?? (code ? (reasons[code] ?? `${code}${cause?.message ? `: ${cause.message}` : ''}`) : (cause?.message ?? (err as Error)?.message ?? String(err)));
  return new Error(`cannot reach ${what} at ${url}: ${reason}`);
}

async function fetchOrExplain(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw unreachable(url, err, what);
  }
}

export class ImageApi {
  private constructor(
    readonly endpoint: string,
    private readonly token: string | null,
    /** The project the token is scoped to (null without Keystone): "your project", as openstackclient means it. */
    readonly projectId: string | null = null,
  ) {}

  static async connect(given: OsOptions): Promise<ImageApi> {
    const o = given.osCloud ? { ...fromCloudsYaml(given.osCloud), ...definedOnly(given) } : given;
    const type = o.osAuthType ?? (o.osToken ? 'token' : 'password');
    if (type === 'none' || type === 'noauth') {
      if (!o.osEndpoint) throw new Error('--os-auth-type none needs --os-endpoint URL (or OS_ENDPOINT): the image service to talk to');
      return new ImageApi(o.osEndpoint.replace(/\/+$/, ''), null);
    }
    const missing = missingCredentials(o, type);
    if (missing.length) {
      throw new Error(
        `no credentials: set ${missing.join(', ')} (or the matching --os-* flags), or name a cloud of clouds.yaml with --os-cloud (OS_CLOUD)`,
      );
    }
    const identity: TokenIdentity =
      type === 'token' || type === 'v3token'
        ? { method: 'token', token: need(o.osToken, '--os-token') }
        : { method: 'password', user: need(o.osUsername, '--os-username'), password: need(o.osPassword, '--os-password'), domain: { name: o.osUserDomainName ?? 'Default' } };
    const scope: TokenScope = o.osProjectId
      ? { project: { id: o.osProjectId } }
      : o.osProjectName
        ? { project: { name: o.osProjectName, domain: { name: o.osProjectDomainName ?? 'Default' } } }
        : null;
    const v3 = identityV3(o.osAuthUrl!);
    const issued = await issueToken(o.osAuthUrl!, identity, scope, { catalog: true, timeoutMs: 60_000 }).catch((err: unknown) => {
      throw unreachable(`${v3}/auth/tokens`, err, 'Keystone');
    });
    if (issued.status !== 201 || !issued.token) throw new Error(`Keystone at ${v3} refused the credentials (${issued.status}: ${issued.error})`);
    const iface = o.osInterface ?? 'public';
    const endpoint = o.osEndpoint ?? findEndpoint(issued.body.token.catalog ?? [], { type: 'image', interface: iface, region: o.osRegionName });
    if (!endpoint) throw new Error(`no ${iface.replace(/URL$/, '')} image endpoint in the catalog${o.osRegionName ? ` for region ${o.osRegionName}` : ''}`);
    return new ImageApi(endpoint.replace(/\/+$/, ''), issued.token, (issued.body.token.project?.id as string | undefined) ?? null);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { 'x-auth-token': this.token } : {}), ...extra };
  }

  /** A JSON call; errors become exceptions carrying Glance's message. */
  async json<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.raw(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'content-type': contentType });
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async raw(method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
    const res = await fetchOrExplain(`${this.endpoint}${path}`, { method, headers: this.headers(headers), body, ...init }, 'the image service');
    if (res.status >= 400) throw new ApiError(res.status, await errorMessage(res));
    return res;
  }

  /** An image by id, else by unique name, as openstackclient resolves it. */
  async findImage(nameOrId: string): Promise<Image> {
    try {
      return await this.json('GET', `/v2/images/${encodeURIComponent(nameOrId)}`);
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
    const byName = (hidden: boolean) =>
      this.json<ImageList>('GET', `/v2/images?name=${encodeURIComponent(`eq:${nameOrId}`)}&visibility=all&member_status=all&limit=2${hidden ? '&os_hidden=true' : ''}`);
    let { images } = await byName(false);
    // A hidden (e.g. deprecated) image is left out of lists unless asked for.
    if (images.length === 0) ({ images } = await byName(true));
    if (images.length === 0) throw new Error(`No Image found for ${nameOrId}`);
    if (images.length > 1) throw new Error(`More than one Image exists with the name '${nameOrId}'.`);
    return images[0];
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { message?: string };
    if (body.message) return `${res.status}: ${body.message.replace(/<br \/>/g, '').trim()}`;
  } catch {
    /* not JSON */
  }
  return `${res.status}: ${text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()}`;
}

/** clouds.yaml, searched where openstacksdk searches: the current directory, ~/.config/openstack, /etc/openstack. */
export function fromCloudsYaml(name: string, dirs = ['.', path.join(homedir(), '.config', 'openstack'), '/etc/openstack']): OsOptions {
  for (const dir of dirs) {
    const file = path.join(dir, 'clouds.yaml');
    if (!existsSync(file)) continue;
    const cloud = (parseYaml(readFileSync(file, 'utf8')) as { clouds?: Record<string, any> })?.clouds?.[name];
    if (!cloud) continue;
    const auth = cloud.auth ?? {};
    return {
      osAuthType: cloud.auth_type,
      osAuthUrl: auth.auth_url,
      osUsername: auth.username,
      osPassword: auth.password,
      osProjectName: auth.project_name,
      osProjectId: auth.project_id,
      osUserDomainName: auth.user_domain_name,
      osProjectDomainName: auth.project_domain_name,
      osToken: auth.token,
      osEndpoint: cloud.image_endpoint_override ?? auth.endpoint,
      osInterface: cloud.interface,
      osRegionName: cloud.region_name,
    };
  }
  throw new Error(`cloud "${name}" is not in any clouds.yaml (./, ~/.config/openstack/, /etc/openstack/)`);
}

/** Flags given (or set through OS_* variables) win over clouds.yaml. */
function definedOnly(o: OsOptions): OsOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as OsOptions;
}

/** The OS_* variables a Keystone login still lacks. */
function missingCredentials(o: OsOptions, type: string): string[] {
  const missing: string[] = [];
  if (!o.osAuthUrl) missing.push('OS_AUTH_URL');
  if (type === 'token' || type === 'v3token') {
    if (!o.osToken) missing.push('OS_TOKEN');
    return missing;
  }
  if (!o.osUsername) missing.push('OS_USERNAME');
  if (!o.osPassword) missing.push('OS_PASSWORD');
  if (!o.osProjectName && !o.osProjectId) missing.push('OS_PROJECT_NAME (or OS_PROJECT_ID)');
  return missing;
}

function need(value: string | undefined, flag: string): string {
  if (!value) throw new Error(`${flag} is needed`);
  return value;
}
