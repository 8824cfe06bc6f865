/**
 * The one place where errors become HTTP: kind → status, and the body in the
 * shape WebOb renders for Glance (JSON, plain text or HTML, chosen by Accept).
 */
import type { ErrorKind } from '../domain/errors.js';

export const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  header_too_large: 431,
  service_unavailable: 503,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Request Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface RenderedError {
  status: number;
  contentType: string;
  body: string;
}

type Format = 'json' | 'html' | 'text';

/**
 * WebOb offers text/html then application/json and falls back to text/plain:
 * with no Accept header nothing is offered, so plain text (what scripts
 * get from Glance); accepting any type takes the first offer, HTML.
 */
function negotiate(accept: string | undefined): Format {
  if (!accept) return 'text';
  const offers = accept.split(',').map((part, index) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)).find(Boolean);
    return { type: type.trim(), q: q ? Number(q[1]) : 1, index };
  });
  const score = (type: string) => {
    const [major] = type.split('/');
    const match = offers.find((o) => o.type === type) ?? offers.find((o) => o.type === `${major}/*`) ?? offers.find((o) => o.type === '*/*');
    return match && match.q > 0 ? match.q : 0;
  };
  const html = score('text/html');
  const json = score('application/json');
  if (json > html) return 'json';
  if (html > 0) return 'html';
  return score('text/plain') > 0 ? 'text' : 'json';
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderError(status: number, explanation: string, accept: string | undefined): RenderedError {
  const title = REASON[status] ?? 'Error';
  const code = `${status} ${title}`;
  const message = `${explanation}<br /><br />\n\n\n`;
  switch (negotiate(accept)) {
    case 'json':
      return { status, contentType: 'application/json', body: JSON.stringify({ message, code, title }) };
    case 'text':
      return { status, contentType: 'text/plain; charset=UTF-8', body: `${code}\n\n${explanation}\n\n   ` };
    case 'html':
      return {
        status,
        contentType: 'text/html; charset=UTF-8',
        body: `<html>\n <head>\n  <title>${code}</title>\n </head>\n <body>\n  <h1>${code}</h1>\n  ${escapeHtml(explanation)}<br /><br />\n\n\n\n </body>\n</html>`,
      };
  }
}
