/**
 * The images table: server-side filters, sorting and marker pagination, all
 * kept in the URL (`#/images?status=active&sort_key=name`), so a view can be
 * bookmarked and the back button works.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { ImageTable } from '../components/ImageTable';
import { VISIBILITIES } from '../components/RecordFields';
import { useAsync } from '../components/useAsync';
import type { ImageList } from '../../api/wire-types';
import { BUSY_STATUSES, type ImageSchema, schemaEnum } from '../images';
import { go, href, route } from '../router';
import { isAdmin } from '../session';

const STATUSES = ['queued', 'saving', 'uploading', 'importing', 'active', 'deactivated', 'killed', 'deleted', 'pending_delete'];
const VISIBILITY_FILTERS = [...VISIBILITIES, 'all'];
const SORT_KEYS = ['created_at', 'name', 'updated_at', 'size', 'status', 'disk_format'];
const PAGE_SIZES = ['25', '50', '100', '1000'];
/** Query keys the form owns; any other key is a property filter (`os_distro=ubuntu`). */
const OWN_KEYS = new Set(['name', 'status', 'visibility', 'disk_format', 'tag', 'sort_key', 'sort_dir', 'limit', 'marker', 'member_status']);

export function Images({ schema }: { schema: ImageSchema | null }) {
  const query = route.value.query;
  const listQuery = new URLSearchParams(query);
  if (!listQuery.has('limit')) listQuery.set('limit', '25');
  const { data, error, loading, reload } = useAsync(() => api<ImageList>('GET', `/v2/images?${listQuery}`), [listQuery.toString()]);

  // Poll while an image is being written, so its status changes in place.
  const busy = data?.images.some((i) => BUSY_STATUSES.has(i.status)) ?? false;
  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(reload, 2000);
    return () => clearInterval(timer);
  }, [busy, reload]);

  const admin = isAdmin();
  const next = data?.next ? new URL(data.next, location.origin).searchParams.get('marker') : null;
  const previous = query.get('marker');

  return (
    <section aria-labelledby="images-title">
      <div class="heading">
        <h1 id="images-title">Images</h1>
        <a class="button primary" href={href('create')}>
          Create image
        </a>
      </div>
      <Filters query={query} diskFormats={schemaEnum(schema, 'disk_format')} />
      <ErrorBox error={error} />
      <div aria-busy={loading}>{data && <ImageTable images={data.images} admin={admin} onChanged={reload} />}</div>
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={!previous} onClick={() => history.back()}>
          Previous page
        </button>
        <button type="button" disabled={!next} onClick={() => next && go(withQuery({ marker: next }))}>
          Next page
        </button>
      </nav>
    </section>
  );
}

function withQuery(changes: Record<string, string | null>): string {
  const q = new URLSearchParams(route.value.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  return `#/images?${q}`;
}

function Filters({ query, diskFormats }: { query: URLSearchParams; diskFormats: string[] }) {
  const property = [...query].find(([k]) => !OWN_KEYS.has(k));
  const [form, setForm] = useState({
    name: query.get('name') ?? '',
    status: query.get('status') ?? '',
    visibility: query.get('visibility') ?? '',
    member_status: query.get('member_status') ?? '',
    disk_format: query.get('disk_format') ?? '',
    tag: query.get('tag') ?? '',
    property: property ? `${property[0]}=${property[1]}` : '',
    sort_key: query.get('sort_key') ?? 'created_at',
    sort_dir: query.get('sort_dir') ?? 'desc',
    limit: query.get('limit') ?? '25',
  });
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  const apply = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['name', 'status', 'visibility', 'member_status', 'disk_format', 'tag', 'sort_key', 'sort_dir', 'limit'] as const) {
      if (form[k]) q.set(k, form[k]);
    }
    const eq = form.property.indexOf('=');
    if (eq > 0) q.set(form.property.slice(0, eq).trim(), form.property.slice(eq + 1).trim());
    go(`#/images?${q}`);
  };

  // On a phone the filters start folded away, so the images come first.
  const [open] = useState(() => !window.matchMedia('(max-width: 640px)').matches);
  return (
    <details class="filter-panel" open={open}>
      <summary>Filters and order</summary>
    <form class="filters" onSubmit={apply} aria-label="Filter images">
      <label>
        Name
        <input value={form.name} onInput={set('name')} />
      </label>
      <Choice label="Status" value={form.status} onChange={set('status')} options={[['', 'any'], ...STATUSES]} />
      <Choice label="Visibility" value={form.visibility} onChange={set('visibility')} options={[['', 'default'], ...VISIBILITY_FILTERS]} />
      <Choice label="Shared with me" value={form.member_status} onChange={set('member_status')} options={[['', 'accepted'], 'pending', 'rejected', 'all']} />
      <Choice label="Disk format" value={form.disk_format} onChange={set('disk_format')} options={[['', 'any'], ...diskFormats]} />
      <label>
        Tag
        <input value={form.tag} onInput={set('tag')} />
      </label>
      <label>
        Property
        <input value={form.property} onInput={set('property')} placeholder="key=value" />
      </label>
      <Choice label="Sort by" value={form.sort_key} onChange={set('sort_key')} options={SORT_KEYS} />
      <Choice label="Order" value={form.sort_dir} onChange={set('sort_dir')} options={[['desc', 'descending'], ['asc', 'ascending']]} />
      <Choice label="Per page" value={form.limit} onChange={set('limit')} options={PAGE_SIZES} />
      <button type="submit">Apply filters</button>
    </form>
    </details>
  );
}

/** A labelled select; an option is its value, or [value, text] when they differ. */
function Choice({ label, value, onChange, options }: { label: string; value: string; onChange: (e: Event) => void; options: readonly (string | readonly [string, string])[] }) {
  return (
    <label>
      {label}
      <select value={value} onChange={onChange}>
        {options.map((o) => {
          const [v, text] = typeof o === 'string' ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
    </label>
  );
}
