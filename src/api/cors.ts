/**
 * oslo.middleware's CORS as Glance configures it ([cors] section), so a
 * browser on an allowed origin can call the API and upload straight to it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CorsConfig } from '../config/options.js';

/** Headers a browser may always send (CORS "simple" headers). */
const SIMPLE_HEADERS = ['cache-control', 'content-language', 'content-type', 'expires', 'last-modified', 'pragma', 'accept', 'accept-language'];

export async function applyCors(cors: CorsConfig, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const origin = request.headers.origin;
  if (!origin) return;
  const allowed = cors.allowedOrigins.includes('*') || cors.allowedOrigins.includes(origin);
  reply.header('vary', 'Origin');
  if (!allowed) return;
  const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
  const allowOrigin = () => {
    reply.header('access-control-allow-origin', origin);
    if (cors.allowCredentials) reply.header('access-control-allow-credentials', 'true');
  };
  if (!preflight) {
    allowOrigin();
    reply.header('access-control-expose-headers', cors.exposeHeaders.join(','));
    return;
  }
  const method = String(request.headers['access-control-request-method']).toUpperCase();
  const asked = String(request.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const permitted = new Set([...SIMPLE_HEADERS, ...cors.allowHeaders.map((h) => h.toLowerCase())]);
  if (!cors.allowMethods.map((m) => m.toUpperCase()).includes(method) || asked.some((h) => !permitted.has(h))) {
    // A refused preflight is answered without CORS headers: the browser then blocks the call.
    await reply.code(200).send();
    return;
  }
  allowOrigin();
  reply
    .header('access-control-allow-methods', method)
    .header('access-control-max-age', String(cors.maxAge));
  if (asked.length) reply.header('access-control-allow-headers', asked.join(','));
  await reply.code(200).send();
}
