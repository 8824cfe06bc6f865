/**
 * Who is signed in, for this browser tab only (sessionStorage): the token is
 * forgotten when the tab closes, and the password is never kept at all.
 */
import { signal } from '@preact/signals';

export interface Session {
  token: string;
  expiresAt: string;
  user: { id: string | null; name: string };
  project: { id: string | null; name: string };
  roles: string[];
}

export type AuthMode = 'noauth' | 'headers' | 'keystone';

const KEY = 'glimpse.session';

function load(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && Date.parse(s.expiresAt) > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(load());
export const authMode = signal<AuthMode | null>(null);

export function currentSession(): Session | null {
  return session.value;
}

/** Admin views (owner column, metadefs editing) follow the token's roles; noauth is an admin. */
export function isAdmin(): boolean {
  if (authMode.value === 'noauth') return true;
  return session.value?.roles.includes('admin') ?? false;
}

export function projectId(): string | null {
  return session.value?.project.id ?? null;
}

export function signedIn(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
  session.value = s;
}

export function signOutLocally(): void {
  sessionStorage.removeItem(KEY);
  session.value = null;
}

export async function signOut(): Promise<void> {
  const s = session.value;
  signOutLocally();
  if (s) await fetch('/dashboard/session', { method: 'DELETE', headers: { 'x-auth-token': s.token } }).catch(() => undefined);
}
