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

/** `[glance_store]` for one Swift store in the all-in-one's test:tester account: small segments, so tests see several. */
export function swiftStoreIni(container: string): string {
  return [
    '[glance_store]',
    'default_store = swift',
    `swift_store_auth_address = ${SWIFT_AUTH_URL}`,
    'swift_store_user = test:tester',
    'swift_store_key = testing',
    'swift_store_auth_version = 1',
    `swift_store_container = ${container}`,
    'swift_store_create_container_on_put = true',
    'swift_store_large_object_size = 2',
    'swift_store_large_object_chunk_size = 1',
    '',
  ].join('\n');
}

/** `[glance_store]` for one S3 store on the all-in-one's S3 API, parts of 5 MiB (S3's smallest). */
export function s3StoreIni(bucket: string): string {
  return [
    '[glance_store]',
    'default_store = s3',
    `s3_store_host = ${S3_ENDPOINT}`,
    's3_store_access_key = test:tester',
    's3_store_secret_key = testing',
    `s3_store_bucket = ${bucket}`,
    's3_store_create_bucket_on_put = true',
    's3_store_large_object_chunk_size = 5',
    '',
  ].join('\n');
}
