/** Who is calling: built once per request by the identity layer, then read-only. */
import { forbidden } from '../domain/errors.js';

export interface RequestContext {
  readonly requestId: string;
  readonly userId: string | null;
  readonly projectId: string | null;
  /** Lower-cased, with Keystone's default implied roles expanded (admin ⇒ member ⇒ reader). */
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
  /** Anonymous callers (allow_anonymous_access) may only read. */
  readonly readOnly: boolean;
  readonly authToken: string | null;
}

/** Keystone's default role implications; a Keystone token already carries them. */
const IMPLIED: Record<string, string[]> = { admin: ['member', 'reader'], member: ['reader'] };

export function normaliseRoles(raw: readonly string[]): string[] {
  const roles = new Set<string>();
  for (const r of raw) {
    const role = r.trim().toLowerCase();
    if (!role) continue;
    roles.add(role);
    for (const implied of IMPLIED[role] ?? []) roles.add(implied);
  }
  return [...roles];
}

/** Anonymous callers (allow_anonymous_access) may only read: every write starts here. */
export function assertWritable(ctx: RequestContext): void {
  if (ctx.readOnly) throw forbidden('Read-only access');
}
