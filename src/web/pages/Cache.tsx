/**
 * This node's image cache, for admins: space used of the maximum, what is
 * cached (hits, last access) and queued, and the cache API's actions.
 */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { useAction } from '../components/useAction';
import { useAsync } from '../components/useAsync';
import type { CacheState } from '../../api/wire-types';
import { bytes } from '../format';
import { href } from '../router';


export function Cache({ maxSize }: { maxSize: number | null }) {
  const { data, error, reload } = useAsync(() => api<CacheState>('GET', '/v2/cache'), []);
  const action = useAction(reload);
  const [note, setNote] = useState('');
  const used = data?.cached_images.reduce((n, c) => n + c.size, 0) ?? 0;
  const hits = data?.cached_images.reduce((n, c) => n + c.hits, 0) ?? 0;

  const queue = (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('image') as HTMLInputElement;
    const id = input.value.trim();
    if (id) void action.run(() => api('PUT', `/v2/cache/${encodeURIComponent(id)}`).then(() => (input.value = '')));
  };
  const prune = () =>
    action.run(async () => {
      const r = await api<{ total_files_pruned: number; total_bytes_pruned: number }>('POST', '/v2/cache/prune');
      setNote(`Pruned ${r.total_files_pruned} images (${bytes(r.total_bytes_pruned)}).`);
    });

  return (
    <section aria-labelledby="cache-title">
      <h1 id="cache-title">Image cache</h1>
      <p>
        On this node: <strong>{bytes(used)}</strong>
        {maxSize ? ` of ${bytes(maxSize)}` : ''} in {data?.cached_images.length ?? 0} images, {hits} hits; {data?.queued_images.length ?? 0} queued.
      </p>
      {maxSize ? <meter aria-label="Cache space used" min={0} max={maxSize} value={used} /> : null}
      <ErrorBox error={error ?? action.error} />
      {note && <p role="status">{note}</p>}
      <form class="inline" aria-label="Queue an image" onSubmit={queue}>
        <label>
          Image ID <input name="image" required pattern="[0-9a-fA-F\-]{36}" />
        </label>
        <button type="submit">Queue for caching</button>
      </form>
      <div class="actions">
        <button type="button" onClick={() => void prune()}>Prune to the maximum</button>
        <button type="button" onClick={() => void action.run(() => api('POST', '/v2/cache/clean'))}>Clean invalid and stalled files</button>
        <button type="button" onClick={() => void action.run(() => api('DELETE', '/v2/cache', { headers: { 'x-image-cache-clear-target': 'queue' } }))}>Clear the queue</button>
        <button type="button" onClick={() => void action.run(() => api('DELETE', '/v2/cache', { headers: { 'x-image-cache-clear-target': 'cache' } }))}>Clear the cache</button>
      </div>
      {data && <CacheTable state={data} remove={(id) => void action.run(() => api('DELETE', `/v2/cache/${id}`))} />}
      <button type="button" onClick={reload}>Refresh</button>
    </section>
  );
}

/** Cached images (size, hits, last access) then queued ones, each removable. */
function CacheTable({ state, remove }: { state: CacheState; remove: (id: string) => void }) {
  return (
    <table>
      <caption>Cached and queued images</caption>
      <thead>
        <tr>
          <th scope="col">Image</th>
          <th scope="col">State</th>
          <th scope="col">Size</th>
          <th scope="col">Hits</th>
          <th scope="col">Last accessed</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {state.cached_images.map((c) => (
          <tr key={c.image_id}>
            <td><a href={href('images', c.image_id)}>{c.image_id}</a></td>
            <td>cached</td>
            <td>{bytes(c.size)}</td>
            <td>{c.hits}</td>
            <td>{new Date(c.last_accessed * 1000).toLocaleString()}</td>
            <td>
              <button type="button" aria-label={`Remove ${c.image_id} from the cache`} onClick={() => remove(c.image_id)}>
                Remove
              </button>
            </td>
          </tr>
        ))}
        {state.queued_images.map((id) => (
          <tr key={id}>
            <td><a href={href('images', id)}>{id}</a></td>
            <td>queued</td>
            <td>—</td>
            <td>—</td>
            <td>—</td>
            <td>
              <button type="button" aria-label={`Remove ${id} from the queue`} onClick={() => remove(id)}>
                Remove
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
