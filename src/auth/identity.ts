/**
 * Who is calling, per auth mode:
 * - `noauth`: every request is an admin of one fixed project (local use only);
 * - `headers`: the identity headers keystonemiddleware sets, trusted as given
 *   (for a deployment behind a trusted proxy, and for tests);
 * - `keystone`: the X-Auth-Token validated against Keystone; identity headers
 *   sent by the client are never read.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthMode } from '../config/options.js';
import { unauthorized } from '../domain/errors.js';
import { type RequestContext, normaliseRoles } from './context.js';
import type { KeystoneValidator } from './keystone.js';
import type { Policy } from './policy.js';

/** keystone mode carries its validator (config/validate.ts makes sure the section exists). */
export type IdentityOptions = {
  noauthProjectId: string;
  allowAnonymousAccess: boolean;
  /** Decides `isAdmin` (rule context_is_admin, which a policy file may redefine). */
  policy: Policy;
} & ({ mode: Exclude<AuthMode, 'keystone'> } | { mode: 'keystone'; keystone: KeystoneValidator });

export type IdentityResolver = (headers: IncomingHttpHeaders, requestId: string) => Promise<RequestContext>;

export function identityResolver(options: IdentityOptions): IdentityResolver {
  switch (options.mode) {
    case 'noauth':
      return async (headers, requestId) => ({
        requestId,
        userId: null,
        projectId: options.noauthProjectId,
        roles: normaliseRoles(['admin']),
        isAdmin: true,
        readOnly: false,
        authToken: header(headers, 'x-auth-token'),
      });
    case 'headers':
      return async (headers, requestId) => withAdmin(fromIdentityHeaders(headers, requestId, options.allowAnonymousAccess), options.policy);
    case 'keystone': {
      const { keystone } = options;
      return async (headers, requestId) => {
        const token = header(headers, 'x-auth-token') ?? header(headers, 'x-storage-token');
        if (!token) {
          if (options.allowAnonymousAccess) return anonymous(requestId);
          throw unauthorized('The request you have made requires authentication.');
        }
        const identity = await keystone.validate(token);
        const roles = normaliseRoles(identity.roles);
        const ctx = { requestId, userId: identity.userId, projectId: identity.projectId, roles, isAdmin: false, readOnly: false, authToken: token };
        return withAdmin(ctx, options.policy);
      };
    }
  }
}

function withAdmin(ctx: RequestContext, policy: Policy): RequestContext {
  return ctx.readOnly ? ctx : { ...ctx, isAdmin: policy.isAdmin(ctx) };
}

function anonymous(requestId: string): RequestContext {
  return { requestId, userId: null, projectId: null, roles: [], isAdmin: false, readOnly: true, authToken: null };
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** oslo.context's from_environ, plus Glance's rule: no confirmed identity → 401 (or anonymous read-only). */
export function fromIdentityHeaders(headers: IncomingHttpHeaders, requestId: string, allowAnonymous: boolean): RequestContext {
  if (header(headers, 'x-identity-status') !== 'Confirmed') {
    if (allowAnonymous) return anonymous(requestId);
    throw unauthorized('The request you have made requires authentication.');
  }
  const roles = normaliseRoles((header(headers, 'x-roles') ?? header(headers, 'x-role') ?? '').split(','));
  return {
    requestId,
    userId: header(headers, 'x-user-id') ?? header(headers, 'x-user'),
    projectId: header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id') ?? header(headers, 'x-tenant'),
    roles,
    isAdmin: false,
    readOnly: false,
    authToken: header(headers, 'x-auth-token'),
  };
}
