/**
 * Keystone token validation, as keystonemiddleware's auth_token does it: the
 * service authenticates with its own credentials ([keystone_authtoken]), then
 * validates each user token with `GET /v3/auth/tokens` (X-Subject-Token).
 * Validations are cached for `token_cache_time`; while Keystone is
 * unreachable, cached tokens keep working until they expire, and new ones get
 * a clear 503.
 */
import { createHash } from 'node:crypto';
import type { KeystoneOptions } from '../config/options.js';
import { GlimpseError, unauthorized } from '../domain/errors.js';
import { type CatalogEntry, type IssuedToken, type TokenScope, findEndpoint, identityV3, issueToken } from '../net/keystone-client.js';

export interface TokenIdentity {
  userId: string | null;
  projectId: string | null;
  roles: string[];
  expiresAt: number;
}

export interface SignedIn {
  token: string;
  expiresAt: string;
  user: { id: string | null; name: string };
  project: { id: string | null; name: string };
  roles: string[];
}

interface CacheEntry {
  identity: TokenIdentity;
  /** When this validation must be asked again (token_cache_time). */
  freshUntil: number;
}

const MAX_CACHED = 10_000;

export class KeystoneUnavailable extends GlimpseError {
  constructor(detail: string) {
    super('service_unavailable', `The Keystone service is temporarily unavailable. (${detail})`);
  }
}

export class KeystoneValidator {
  private readonly v3: string;
  private serviceToken: { token: string; expiresAt: number } | null = null;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly o: KeystoneOptions) {
    this.v3 = identityV3(o.authUrl);
  }

  get wwwAuthenticate(): string {
    return `Keystone uri="${this.o.wwwAuthenticateUri}"`;
  }

  async validate(userToken: string, now = Date.now()): Promise<TokenIdentity> {
    // Keyed by digest: the cache never holds the tokens themselves.
    const key = createHash('sha256').update(userToken).digest('hex');
    const cached = this.cache.get(key);
    if (cached && cached.identity.expiresAt <= now) {
      this.cache.delete(key);
      throw unauthorized('The token has expired.');
    }
    if (cached && cached.freshUntil > now) return cached.identity;
    let identity: TokenIdentity;
    try {
      identity = await this.ask(userToken);
    } catch (err) {
      // Keystone is unreachable: a token validated before keeps working until it expires.
      if (err instanceof KeystoneUnavailable && cached) return cached.identity;
      throw err;
    }
    if (identity.expiresAt <= now) throw unauthorized('The token has expired.');
    this.remember(key, { identity, freshUntil: now + this.o.tokenCacheTime * 1000 });
    return identity;
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, entry);
  }

  private async ask(userToken: string, retried = false): Promise<TokenIdentity> {
    const service = await this.service();
    const res = await this.call(`${this.v3}/auth/tokens?nocatalog`, {
      headers: { 'x-auth-token': service, 'x-subject-token': userToken, 'openstack-identity-access-rules': '1', accept: 'application/json' },
    });
    if (res.status === 200) return toIdentity(await res.json());
    if (res.status === 404) throw unauthorized('The request you have made requires authentication.');
    if (res.status === 401 && !retried) {
      this.serviceToken = null;
      return this.ask(userToken, true);
    }
    throw new KeystoneUnavailable(`token validation answered ${res.status}`);
  }

  /** The service's own token, renewed a minute before it expires. */
  async service(): Promise<string> {
    if (this.serviceToken && this.serviceToken.expiresAt - 60_000 > Date.now()) return this.serviceToken.token;
    const scope: TokenScope = this.o.projectName === null ? { system: { all: true as const } } : { project: { name: this.o.projectName, domain: { name: this.o.projectDomainName } } };
    const issued = await this.passwordToken({ name: this.o.username, domain: this.o.userDomainName, password: this.o.password }, scope);
    if (issued.status !== 201 || !issued.token) {
      throw new KeystoneUnavailable(`the service credentials of [keystone_authtoken] were refused (${issued.status})`);
    }
    this.serviceToken = { token: issued.token, expiresAt: Date.parse(issued.body.token.expires_at) };
    return issued.token;
  }

  /** A password token from Keystone; an unreachable Keystone is a 503, a refusal an answer for the caller to judge. */
  private async passwordToken(user: { name: string; domain: string; password: string }, scope: TokenScope): Promise<IssuedToken> {
    try {
      return await issueToken(this.o.authUrl, { method: 'password', user: user.name, password: user.password, domain: { name: user.domain } }, scope, {
        catalog: false,
        timeoutMs: this.o.timeout * 1000,
      });
    } catch (err) {
      throw new KeystoneUnavailable(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * A user's project-scoped token for the dashboard's sign-in: the password
   * goes to Keystone and nowhere else. Null when Keystone refuses the credentials.
   */
  async signIn(c: { username: string; password: string; project: string; domain: string }): Promise<SignedIn | null> {
    const issued = await this.passwordToken(
      { name: c.username, domain: c.domain, password: c.password },
      { project: { name: c.project, domain: { name: c.domain } } },
    );
    if (issued.status === 401 || issued.status === 404 || issued.status === 400) return null;
    if (issued.status !== 201 || !issued.token) throw new KeystoneUnavailable(`sign-in answered ${issued.status}`);
    const identity = toIdentity(issued.body);
    return {
      token: issued.token,
      expiresAt: new Date(identity.expiresAt).toISOString(),
      user: { id: identity.userId, name: String(issued.body.token.user?.name ?? c.username) },
      project: { id: identity.projectId, name: String(issued.body.token.project?.name ?? c.project) },
      roles: identity.roles,
    };
  }

  /**
   * A caller's object-store URL (multi-tenant Swift), from the catalog of the
   * caller's own token: the URL names the token's project's account.
   */
  async objectStoreUrl(userToken: string, where: { serviceType: string; interface: string; region: string | null }): Promise<string> {
    const res = await this.call(`${this.v3}/auth/catalog`, { headers: { 'x-auth-token': userToken, accept: 'application/json' } });
    if (res.status !== 200) throw new KeystoneUnavailable(`GET /auth/catalog answered ${res.status}`);
    const { catalog } = (await res.json()) as { catalog: CatalogEntry[] };
    const endpoint = findEndpoint(catalog, { type: where.serviceType, interface: where.interface, region: where.region });
    if (!endpoint) {
      throw new GlimpseError('service_unavailable', `The service catalog has no ${where.interface} ${where.serviceType} endpoint${where.region ? ` in ${where.region}` : ''} for this project.`);
    }
    return endpoint;
  }

  /** Signs a dashboard session out: the token is revoked, not merely forgotten. */
  async revoke(userToken: string): Promise<void> {
    await this.call(`${this.v3}/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': await this.service(), 'x-subject-token': userToken },
    });
    this.cache.delete(createHash('sha256').update(userToken).digest('hex'));
  }

  /** A GET on Keystone's v3 API with the service's token (for limits, endpoints …). */
  async get(path: string): Promise<unknown> {
    const res = await this.call(`${this.v3}${path}`, { headers: { 'x-auth-token': await this.service(), accept: 'application/json' } });
    if (res.status !== 200) throw new KeystoneUnavailable(`GET ${path} answered ${res.status}`);
    return res.json();
  }

  private async call(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.o.timeout * 1000) });
    } catch (err) {
      throw new KeystoneUnavailable(err instanceof Error ? err.message : String(err));
    }
  }
}

function toIdentity(body: unknown): TokenIdentity {
  const token = (body as { token?: Record<string, any> }).token ?? {};
  return {
    userId: token.user?.id ?? null,
    projectId: token.project?.id ?? null,
    roles: Array.isArray(token.roles) ? token.roles.map((r: { name: string }) => String(r.name)) : [],
    expiresAt: Date.parse(token.expires_at),
  };
}
