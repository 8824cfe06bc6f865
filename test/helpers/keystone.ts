/**
 * The real Keystone started by ../shared/keystone (127.0.0.1:5001): tokens
 * for its test users, and two more projects for sharing tests, created through
 * its API with the admin credentials.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Identity } from './client.js';
import { requireTool } from './tools.js';

export const KEYSTONE_DIR = process.env.KEYSTONE_TEST_DIR ?? '/var/tmp/keystone-test';
export const KEYSTONE_URL = 'http://127.0.0.1:5001';
const ENTITIES = path.join(KEYSTONE_DIR, 'entities.json');

export function keystoneSkip(): string | false {
  return requireTool(
    'the test Keystone',
    () => existsSync(ENTITIES) && spawnSync('curl', ['-sf', '-o', '/dev/null', `${KEYSTONE_URL}/v3`]).status === 0,
    'bash ../shared/keystone/setup.sh --start',
  );
}

interface Entities {
  projects: Record<string, { id: string }>;
}

export function projectId(name: string): string {
  const entities = JSON.parse(readFileSync(ENTITIES, 'utf8')) as Entities;
  const project = entities.projects[name];
  if (!project) throw new Error(`no project ${name} in ${ENTITIES}`);
  return project.id;
}

export async function issueToken(user: string, password: string, project: string): Promise<{ token: string; projectId: string }> {
  const res = await fetch(`${KEYSTONE_URL}/v3/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
        scope: { project: { name: project, domain: { name: 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`token for ${user} refused: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: { project: { id: string } } };
  return { token: res.headers.get('x-subject-token')!, projectId: body.token.project.id };
}

export async function identityFor(user: string, password: string, project: string): Promise<Identity> {
  const { token, projectId: id } = await issueToken(user, password, project);
  return { project: id, user, token };
}

/** A project with one member user, created once (idempotent across runs). */
export async function ensureProjectUser(project: string, user: string, password: string): Promise<void> {
  const admin = (await issueToken('admin', 'admin-pass', 'admin')).token;
  const h = { 'x-auth-token': admin, 'content-type': 'application/json' };
  const get = async (p: string) => (await fetch(`${KEYSTONE_URL}/v3${p}`, { headers: h })).json() as Promise<any>;
  let projectRef = (await get(`/projects?name=${project}`)).projects[0];
  if (!projectRef) {
    const res = await fetch(`${KEYSTONE_URL}/v3/projects`, { method: 'POST', headers: h, body: JSON.stringify({ project: { name: project, domain_id: 'default' } }) });
    projectRef = ((await res.json()) as any).project;
  }
  let userRef = (await get(`/users?name=${user}`)).users[0];
  if (!userRef) {
    const res = await fetch(`${KEYSTONE_URL}/v3/users`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ user: { name: user, password, domain_id: 'default', default_project_id: projectRef.id } }),
    });
    userRef = ((await res.json()) as any).user;
  }
  const role = (await get('/roles?name=member')).roles[0];
  await fetch(`${KEYSTONE_URL}/v3/projects/${projectRef.id}/users/${userRef.id}/roles/${role.id}`, { method: 'PUT', headers: h });
}

export const KEYSTONE_INI = (extra = '') => `[keystone_authtoken]
auth_url = ${KEYSTONE_URL}
www_authenticate_uri = ${KEYSTONE_URL}
username = glimpse
password = glimpse-pass
project_name = service
user_domain_name = Default
project_domain_name = Default
${extra}`;
