/**
 * How an object store tells a live writer from a dead one, whatever host
 * either runs on: while an add runs, a small `<id>.writing` object beside the
 * data is rewritten every heartbeat (`[glimpse] task_heartbeat_seconds`). A
 * lease last written more than three heartbeats ago — by the store's own
 * clock, its Date header, so hosts' clocks do not matter — belongs to a
 * writer that died.
 */
import { leftBehind } from './leftovers.js';

export interface LeaseObject {
  write(): Promise<void>;
  /** The lease's age in milliseconds by the store's clock, or null when there is none. */
  age(): Promise<number | null>;
  remove(): Promise<void>;
}

export const LEASE_SUFFIX = '.writing';

/** Runs `work` while holding the lease; the lease goes when the work ends, however it ends. */
export async function whileLeased<T>(lease: LeaseObject, heartbeatMs: number, work: () => Promise<T>): Promise<T> {
  await lease.write();
  const timer = setInterval(() => lease.write().catch(() => undefined), heartbeatMs);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await lease.remove().catch(leftBehind('the lease of a finished write (judged stale by its age later)'));
  }
}

export type WriterState = 'live' | 'dead' | 'none';

export async function writerState(lease: LeaseObject, heartbeatMs: number): Promise<WriterState> {
  const age = await lease.age();
  if (age === null) return 'none';
  return age < heartbeatMs * 3 ? 'live' : 'dead';
}

/** Milliseconds between an object's Last-Modified and the response's Date (both whole seconds). */
export function ageFromHeaders(headers: Record<string, string | string[] | undefined>): number {
  const modified = Date.parse(String(headers['last-modified'] ?? ''));
  const now = Date.parse(String(headers.date ?? ''));
  if (Number.isNaN(modified) || Number.isNaN(now)) return Number.POSITIVE_INFINITY;
  return now - modified;
}
