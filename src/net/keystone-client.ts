/**
 * The one way Glimpse asks Keystone v3 for a token (`POST /v3/auth/tokens`,
 * by password or by token, scoped or not) and finds an endpoint in a
 * catalog. Used by token validation (its service token and the dashboard's
 * sign-in), the Swift store (its Keystone v3 account) and the CLI.
 */

/** Whom a name belongs to: a domain by name or by id. */
export type DomainRef = { name: string } | { id: string };

export type TokenIdentity =
  | { method: 'password'; user: string; password: string; domain: DomainRef }
  | { method: 'token'; token: string };

export type TokenScope = { project: { id: string } | { name: string; domain: DomainRef } } | { system: { all: true } } | null;

export interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

export interface IssuedToken {
  /** Keystone's answer: 201 when the token was issued. */
  status: number;
  token: string | null;
  /** The token's body (`{}` when none was issued). */
  body: { token: Record<string, any> & { catalog?: CatalogEntry[] } };
  /** Keystone's error message, when it refused. */
  error: string | null;
}

/** `auth_url` with or without `/v3`, as the v3 API root. */
export function identityV3(authUrl: string): string {
  return authUrl.replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3');
}

/** Asks for a token; `catalog: false` leaves the catalog out (`?nocatalog`). A refusal is an answer, not an exception. */
export async function issueToken(
  authUrl: string,
  identity: TokenIdentity,
  scope: TokenScope,
  o: { catalog: boolean; timeoutMs: number },
): Promise<IssuedToken> {
  const ident = identity.method === 'password'
    ? { methods: ['password'], password: { user: { name: identity.user, domain: identity.domain, password: identity.password } } }
    : { methods: ['token'], token: { id: identity.token } };
  const res = await fetch(`${identityV3(authUrl)}/auth/tokens${o.catalog ? '' : '?nocatalog'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ auth: { identity: ident, ...(scope ? { scope } : {}) } }),
    signal: AbortSignal.timeout(o.timeoutMs),
  });
  const token = res.headers.get('x-subject-token');
  if (res.status !== 201) return { status: res.status, token, body: { token: {} }, error: errorText(await res.text()) };
  return { status: res.status, token, body: (await res.json()) as IssuedToken['body'], error: null };
}

/** The URL of a service's endpoint in a catalog: by type, interface (`public` or `publicURL`) and, if given, region. */
export function findEndpoint(catalog: readonly CatalogEntry[], where: { type: string; interface: string; region?: string | null }): string | null {
  const wanted = where.interface.replace(/URL$/, '');
  const endpoint = catalog
    .filter((s) => s.type === where.type)
    .flatMap((s) => s.endpoints)
    .find((e) => e.interface === wanted && (!where.region || e.region_id === where.region || e.region === where.region));
  return endpoint?.url ?? null;
}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    /* not JSON */
  }
  return text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}
