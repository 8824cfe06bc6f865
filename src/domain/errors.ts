/**
 * Typed errors raised anywhere below the HTTP layer. Each carries a `kind`;
 * `src/api/errors.ts` is the only place that turns a kind into a status code
 * and a Glance-shaped body.
 */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'gone'
  | 'too_large'
  | 'unsupported_media_type'
  | 'range_not_satisfiable'
  | 'header_too_large'
  | 'service_unavailable';

export class GlimpseError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Extra response headers the error implies (Allow, Accept-Patch, WWW-Authenticate …). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GlimpseError';
  }
}

export const badRequest = (message: string) => new GlimpseError('bad_request', message);
export const unauthorized = (message: string, headers: Record<string, string> = {}) =>
  new GlimpseError('unauthorized', message, headers);
export const forbidden = (message: string) => new GlimpseError('forbidden', message);
export const notFound = (message: string) => new GlimpseError('not_found', message);
export const conflict = (message: string) => new GlimpseError('conflict', message);
export const gone = (message: string) => new GlimpseError('gone', message);
export const tooLarge = (message: string) => new GlimpseError('too_large', message);
export const unsupportedMediaType = (message: string, headers: Record<string, string> = {}) =>
  new GlimpseError('unsupported_media_type', message, headers);
export const rangeNotSatisfiable = (message: string) => new GlimpseError('range_not_satisfiable', message);
export const methodNotAllowed = (method: string, allow: string[]) =>
  new GlimpseError('method_not_allowed', `The method ${method} is not allowed for this resource.`, {
    allow: allow.join(', '),
  });
