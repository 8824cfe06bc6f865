/**
 * Who is calling, per auth mode:
 * - `noauth`: every request is an admin of one fixed project (local use only);
 * - `headers`: the identity headers keystonemiddleware sets, trusted as given
 *   (for a deployment behind a trusted proxy, and for tests).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthMode } from '../config/config.js';
import { unauthorized } from '../domain/errors.js';
import { type RequestContext, normaliseRoles } from './context.js';

export interface IdentityOptions {
  mode: AuthMode;
  noauthProjectId: string;
  allowAnonymousAccess: boolean;
}

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
      return async (headers, requestId) => fromIdentityHeaders(headers, requestId, options.allowAnonymousAccess);
    case 'keystone':
      throw new Error('Keystone token validation (--auth keystone) is not available yet; use noauth or headers');
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** oslo.context's from_environ, plus Glance's rule: no confirmed identity → 401 (or anonymous read-only). */
export function fromIdentityHeaders(headers: IncomingHttpHeaders, requestId: string, allowAnonymous: boolean): RequestContext {
  if (header(headers, 'x-identity-status') !== 'Confirmed') {
    if (allowAnonymous) {
      return { requestId, userId: null, projectId: null, roles: [], isAdmin: false, readOnly: true, authToken: null };
    }
    throw unauthorized('The request you have made requires authentication.');
  }
  const roles = normaliseRoles((header(headers, 'x-roles') ?? header(headers, 'x-role') ?? '').split(','));
  return {
    requestId,
    userId: header(headers, 'x-user-id') ?? header(headers, 'x-user'),
    projectId: header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id') ?? header(headers, 'x-tenant'),
    roles,
    isAdmin: roles.includes('admin'),
    readOnly: false,
    authToken: header(headers, 'x-auth-token'),
  };
}
