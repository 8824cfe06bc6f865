/**
 * Images API record benchmark: create, show, and list 1,000 of 10,000 images
 * (with and without a property filter), against a real server process.
 */
import { type BenchServer, type Result, call, measure } from './harness.js';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

export async function apiBenchmarks(server: BenchServer, imageCount = 10_000): Promise<Result[]> {
  const results: Result[] = [];
  const ids: string[] = [];
  const create = await measure(`create (${imageCount} images)`, imageCount, 16, async (i) => {
    const body = { name: `bench-${i}`, disk_format: 'qcow2', container_format: 'bare', os_distro: i % 10 === 0 ? 'ubuntu' : 'debian', tags: ['bench'] };
    const res = await call(`${server.url}/v2/images`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
    ids.push(((await res.json()) as { id: string }).id);
  });
  results.push(create);
  results.push(
    await measure('show', 5000, 16, async (i) => {
      await (await call(`${server.url}/v2/images/${ids[i % ids.length]}`, { headers: JSON_HEADERS })).arrayBuffer();
    }),
  );
  const list = await measure('list limit=1000', 40, 4, async () => {
    const body = (await (await call(`${server.url}/v2/images?limit=1000`, { headers: JSON_HEADERS })).json()) as { images: unknown[] };
    if (body.images.length !== 1000) throw new Error(`expected 1000 images, got ${body.images.length}`);
  });
  results.push({ ...list, extra: `of ${imageCount}` });
  const filtered = await measure('list limit=1000 os_distro=ubuntu', 40, 4, async () => {
    const body = (await (await call(`${server.url}/v2/images?limit=1000&os_distro=ubuntu`, { headers: JSON_HEADERS })).json()) as { images: unknown[] };
    if (body.images.length !== Math.min(1000, imageCount / 10)) throw new Error(`unexpected count ${body.images.length}`);
  });
  results.push({ ...filtered, extra: `${imageCount / 10} match` });
  const paged = await measure('list limit=1000 with marker', 40, 4, async (i) => {
    await (await call(`${server.url}/v2/images?limit=1000&sort_key=name&marker=${ids[(i * 97) % ids.length]}`, { headers: JSON_HEADERS })).arrayBuffer();
  });
  results.push(paged);
  return results;
}
