/** The Swift all-in-one of ../shared/swift (native API and S3 on 127.0.0.1:8080), for the store suites. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SHARED_DIR, requireTool } from './tools.js';

export const SWIFT_AUTH_URL = 'http://127.0.0.1:8080/auth/v1.0';
export const S3_ENDPOINT = 'http://127.0.0.1:8080';

export function swiftSkip(): string | false {
  return requireTool(
    'the Swift all-in-one',
    () => existsSync('/var/tmp/swift-aio/endpoints.env') && spawnSync('curl', ['-sf', '-o', '/dev/null', 'http://127.0.0.1:8080/info']).status === 0,
    `bash ${path.join(SHARED_DIR, 'swift', 'setup.sh')} && bash ${path.join(SHARED_DIR, 'swift', 'start.sh')}`,
  );
}

/** A direct Swift API call as test:tester, to look at what a store wrote. */
export async function swift(method: string, pathAndQuery: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  const auth = await fetch(SWIFT_AUTH_URL, { headers: { 'x-auth-user': 'test:tester', 'x-auth-key': 'testing' } });
  const token = auth.headers.get('x-auth-token')!;
  const res = await fetch(`${auth.headers.get('x-storage-url')}/${pathAndQuery}`, { method, headers: { ...headers, 'x-auth-token': token }, body: body as BodyInit | undefined });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Object names in a container (a bucket, seen through Swift), with a prefix. */
export async function objectNames(container: string, prefix = ''): Promise<string[]> {
  const listing = (await swift('GET', `${container}?format=json&prefix=${prefix}`)).text;
  return (JSON.parse(listing || '[]') as { name: string }[]).map((o) => o.name);
}
