/**
 * The dashboard's only way to the server: the public Images and Metadefs
 * APIs, with the signed-in token, errors turned into readable messages.
 */
import { currentSession, signOutLocally } from './session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  body?: unknown;
  /** Overrides the JSON content type, e.g. for JSON-patch. */
  contentType?: string;
  headers?: Record<string, string>;
}

export function authHeaders(): Record<string, string> {
  const session = currentSession();
  return session ? { 'x-auth-token': session.token } : {};
}

export async function api<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(), ...o.headers };
  let body: string | undefined;
  if (o.body !== undefined) {
    headers['content-type'] = o.contentType ?? 'application/json';
    body = JSON.stringify(o.body);
  }
  const res = await fetch(path, { method, headers, body });
  if (res.status === 401 && currentSession()) signOutLocally();
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** Glance's error bodies end the message with `<br /><br />`; people should not see that. */
export async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const parsed = JSON.parse(text) as { message?: string };
    if (parsed.message) return cleanMessage(parsed.message);
  } catch {
    // not JSON: fall through
  }
  return cleanMessage(text) || `${res.status} ${res.statusText}`;
}

export function cleanMessage(message: string): string {
  return message.replace(/<br\s*\/?>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** JSON-patch for PATCH /v2/images/{id}. */
export function patchImage<T>(id: string, ops: unknown[]): Promise<T> {
  return api<T>('PATCH', `/v2/images/${encodeURIComponent(id)}`, {
    body: ops,
    contentType: 'application/openstack-images-v2.1-json-patch',
  });
}
