/**
 * The web dashboard: the files Vite built (dist/web), served under
 * /dashboard, and the sign-in that trades a username and password for a
 * project-scoped Keystone token. The dashboard itself only calls the public
 * Images and Metadefs APIs, with that token, as any other client does.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SignedIn } from '../../auth/keystone.js';
import type { AuthMode } from '../../config/options.js';
import { GlimpseError, badRequest, unauthorized } from '../../domain/errors.js';

export interface DashboardOptions {
  /** The directory Vite built. */
  root: string;
  auth: AuthMode;
  /** Keystone mode: trades credentials for a token (null: Keystone refused them). */
  signIn: ((credentials: Credentials) => Promise<SignedIn | null>) | null;
  revoke: ((token: string) => Promise<void>) | null;
  /** This node's image cache, for the admin page: its maximum size; null without a cache. */
  cache: { maxSize: number } | null;
}

interface Credentials {
  username: string;
  password: string;
  project: string;
  domain: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** Only the dashboard's own origin: no inline script, no framing. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const MAX_FIELD = 255;

export function dashboardRoutes(app: FastifyInstance, o: DashboardOptions): void {
  // Every servable file is listed once at start-up: a URL either names one of
  // them exactly or is a 404, so no request path ever reaches the file system.
  const files = listFiles(o.root);

  const send = (reply: FastifyReply, file: string, immutable: boolean) => {
    const found = files.get(file);
    if (!found) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    reply.headers(SECURITY_HEADERS);
    reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').send(found);
  };

  app.get('/dashboard', async (_request, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/', async (_request, reply) => {
    if (!files.has('index.html')) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run "npm run build".');
    }
    return send(reply, 'index.html', false);
  });
  // Vite names assets by content hash, so they never change under one URL.
  app.get<{ Params: { '*': string } }>('/dashboard/assets/*', async (request, reply) => send(reply, `assets/${request.params['*']}`, true));

  app.get('/dashboard/config.json', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { auth: o.auth, cache: o.cache };
  });

  app.post<{ Body: unknown }>('/dashboard/session', async (request, reply) => {
    if (!o.signIn) throw new GlimpseError('not_found', `There is no sign-in: this server runs with --auth ${o.auth}.`);
    const credentials = parseCredentials(request.body);
    const session = await o.signIn(credentials);
    if (!session) throw unauthorized('The username, password or project is not correct.');
    reply.header('cache-control', 'no-store');
    return reply.code(201).send(session);
  });

  app.delete('/dashboard/session', async (request, reply) => {
    const token = request.headers['x-auth-token'];
    if (o.revoke && typeof token === 'string' && token) await o.revoke(token);
    return reply.code(204).send();
  });
}

function parseCredentials(body: unknown): Credentials {
  const fields = (body ?? {}) as Record<string, unknown>;
  const read = (name: keyof Credentials, fallback?: string): string => {
    const value = fields[name] ?? fallback;
    if (typeof value !== 'string' || value === '') throw badRequest(`'${name}' is required.`);
    if (value.length > MAX_FIELD) throw badRequest(`'${name}' is longer than ${MAX_FIELD} characters.`);
    return value;
  };
  return { username: read('username'), password: read('password'), project: read('project'), domain: read('domain', 'Default') };
}

function listFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!existsSync(root)) return files;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full));
    }
  };
  walk(root);
  return files;
}
