/** Hash routes (`#/images/<id>`), so every dashboard URL is the same file on the server. */
import { signal } from '@preact/signals';

export const route = signal(parse());

function parse(): { path: string[]; query: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  return { path: path ? path.split('/').map(decodeURIComponent) : [], query: new URLSearchParams(query ?? '') };
}

addEventListener('hashchange', () => {
  route.value = parse();
});

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function go(to: string): void {
  location.hash = to;
}
