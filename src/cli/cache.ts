/**
 * `glimpse cache …`: a node's image cache through its API (v2.14+), as
 * `glance cache-*` does: list, queue (optionally waiting for the prefetch),
 * delete, clear, clean and prune. Point it at one node's own endpoint, not a
 * load balancer: each node has its own cache.
 */
import { Command } from 'commander';
import type { CacheState } from '../api/wire-types.js';
import { type OsOptions, ImageApi, osCommand } from './os-client.js';
import { type OutputOptions, printList, printRecord, withOutputOptions } from './output.js';

type Opts = OsOptions & OutputOptions & Record<string, any>;

/** glanceclient's rendering of an epoch: ISO 8601 in UTC without a zone, N/A for 0. */
const utc = (seconds: number) => (seconds ? new Date(seconds * 1000).toISOString().replace(/Z$/, '').replace(/\.000$/, '') : 'N/A');

async function list(o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const state = await api.json<CacheState>('GET', '/v2/cache');
  const rows = [
    ...state.cached_images.map((c) => [c.image_id, 'cached', utc(c.last_accessed), utc(c.last_modified), c.size, c.hits]),
    ...state.queued_images.map((id) => [id, 'queued', 'N/A', 'N/A', 'N/A', 'N/A']),
  ];
  printList(['ID', 'State', 'Last Accessed (UTC)', 'Last Modified (UTC)', 'Size', 'Hits'], rows, o);
}

/** Runs `work` for each image, reporting every failure and failing once at the end, as glanceclient reports per image. */
async function each(images: string[], verb: string, work: (id: string) => Promise<void>): Promise<void> {
  const failures: string[] = [];
  for (const id of images) await work(id).catch((err: Error) => failures.push(`${id}: ${err.message}`));
  if (failures.length) throw new Error(`could not ${verb} ${failures.length} of ${images.length}:\n  ${failures.join('\n  ')}`);
}

async function queue(images: string[], o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await each(images, 'queue', (id) => api.raw('PUT', `/v2/cache/${encodeURIComponent(id)}`).then(() => undefined));
  if (o.wait) await waitForPrefetch(api, images, Number(o.timeout));
}

/** Shows each queued image's state (queued → cached, with its size) until all are cached or the timeout passes. */
async function waitForPrefetch(api: ImageApi, images: string[], timeoutSeconds: number): Promise<void> {
  const started = Date.now();
  const tty = Boolean(process.stderr.isTTY);
  for (;;) {
    const state = await api.json<CacheState>('GET', '/v2/cache');
    const cached = new Map(state.cached_images.map((c) => [c.image_id, c.size]));
    const done = images.filter((id) => cached.has(id));
    const elapsed = ((Date.now() - started) / 1000).toFixed(0);
    const line = `prefetch: ${done.length}/${images.length} cached (${(done.reduce((n, id) => n + cached.get(id)!, 0) / 2 ** 20).toFixed(1)} MiB), ${elapsed} s`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    if (done.length === images.length) break;
    if (Date.now() - started > timeoutSeconds * 1000) {
      if (tty) process.stderr.write('\n');
      throw new Error(`not cached after ${timeoutSeconds} s: ${images.filter((id) => !cached.has(id)).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (tty) process.stderr.write('\n');
}

async function remove(images: string[], o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  await each(images, 'delete', (id) => api.raw('DELETE', `/v2/cache/${encodeURIComponent(id)}`).then(() => undefined));
}

async function clear(o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  const target = o.target === 'both' ? '' : o.target;
  if (!['', 'cache', 'queue'].includes(target)) throw new Error('--target is one of both, cache, queue');
  await api.raw('DELETE', '/v2/cache', undefined, target ? { 'x-image-cache-clear-target': target } : {});
}

async function prune(o: Opts): Promise<void> {
  const api = await ImageApi.connect(o);
  printRecord(await api.json('POST', '/v2/cache/prune'), o);
}

export function cacheCommand(): Command {
  const cache = new Command('cache').description("a node's image cache (v2.14+): point --os-endpoint at the node itself");
  cache.addCommand(withOutputOptions(osCommand('list', 'cached and queued images', 'glimpse cache list --os-endpoint http://node-1:9292')).action(list));
  cache.addCommand(
    osCommand('queue', 'queue images for the prefetcher', 'glimpse cache queue <image id>', 'glimpse cache queue --wait <image id> <image id>')
      .argument('<images...>')
      .option('--wait', 'show the prefetch until every image is cached')
      .option('--timeout <seconds>', 'with --wait: give up after this long', '3600')
      .action(queue),
  );
  cache.addCommand(osCommand('delete', 'remove images from the cache and the queue', 'glimpse cache delete <image id>').argument('<images...>').action(remove));
  cache.addCommand(
    osCommand('clear', 'empty the cache, the queue, or both', 'glimpse cache clear', 'glimpse cache clear --target queue')
      .option('--target <target>', 'both, cache or queue', 'both')
      .action(clear),
  );
  cache.addCommand(osCommand('clean', 'remove invalid and stalled cache files', 'glimpse cache clean').action(async (o: Opts) => void (await (await ImageApi.connect(o)).raw('POST', '/v2/cache/clean'))));
  cache.addCommand(withOutputOptions(osCommand('prune', 'evict least-recently-used images down to image_cache_max_size', 'glimpse cache prune')).action(prune));
  return cache;
}
