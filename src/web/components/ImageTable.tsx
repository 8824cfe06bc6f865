/**
 * The images table: sortable headers (the server sorts; the order lives in
 * the URL), a search box that narrows the page's rows as you type, and
 * checkboxes with bulk actions (deactivate, reactivate, delete) behind a
 * confirmation, plus the same actions per row.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import type { Image } from '../../api/wire-types';
import { api } from '../api';
import { ago, bytes, date } from '../format';
import { go, href, route } from '../router';
import { Confirm } from './Confirm';
import { Status } from './Status';

type Action = 'deactivate' | 'reactivate' | 'delete' | 'share';
const ACTION_LABEL: Record<Action, string> = { deactivate: 'Deactivate', reactivate: 'Reactivate', delete: 'Delete', share: 'Share' };

interface Pending {
  action: Action;
  ids: string[];
  /** For `share`: the member project. */
  project?: string;
}

function request({ action, project }: Pending, id: string): Promise<unknown> {
  const path = `/v2/images/${encodeURIComponent(id)}`;
  if (action === 'delete') return api('DELETE', path);
  if (action === 'share') return api('POST', `${path}/members`, { body: { member: project } });
  return api('POST', `${path}/actions/${action}`);
}

export function ImageTable({ images, admin, onChanged }: { images: Image[]; admin: boolean; onChanged: () => void }) {
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Pending | null>(null);
  const [outcome, setOutcome] = useState('');
  const needle = search.trim().toLowerCase();
  const shown = needle ? images.filter((i) => (i.name ?? '').toLowerCase().includes(needle) || i.id.includes(needle)) : images;
  const chosen = shown.filter((i) => selected.has(i.id));
  const toggle = (id: string) => setSelected((s) => (s.has(id) ? new Set([...s].filter((x) => x !== id)) : new Set([...s, id])));
  const allChosen = shown.length > 0 && chosen.length === shown.length;
  const nameOf = (id: string) => images.find((i) => i.id === id)?.name || id;

  const run = async (work: Pending) => {
    setPending(null);
    const failed: string[] = [];
    for (const id of work.ids) await request(work, id).catch((err: Error) => failed.push(`${nameOf(id)}: ${err.message}`));
    const done = work.ids.length - failed.length;
    setOutcome(`${ACTION_LABEL[work.action]}: ${done} of ${work.ids.length} done.${failed.length ? ` Failed — ${failed.join('; ')}` : ''}`);
    setSelected(new Set());
    onChanged();
  };

  return (
    <>
      <div class="table-tools">
        <label class="search">
          Search names
          <input type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} placeholder="part of a name or id" />
        </label>
        <p role="status" class="count">
          {needle ? `${shown.length} of ${images.length} images on this page` : `${images.length} image${images.length === 1 ? '' : 's'} on this page`}
        </p>
        {chosen.length > 0 && <BulkBar ids={chosen.map((i) => i.id)} onPick={setPending} />}
      </div>
      {outcome && (
        <p class="outcome" role="status">
          {outcome}
        </p>
      )}
      <div class="table-wrap">
        <table class="images">
          <caption class="visually-hidden">Images, {shown.length} shown</caption>
          <thead>
            <HeaderRow admin={admin} allChosen={allChosen} onToggleAll={() => setSelected(allChosen ? new Set() : new Set(shown.map((i) => i.id)))} />
          </thead>
          <tbody>
            {shown.map((image) => (
              <Row key={image.id} image={image} admin={admin} chosen={selected.has(image.id)} onToggle={() => toggle(image.id)} onPick={(action) => setPending({ action, ids: [image.id] })} />
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={admin ? 12 : 11}>No images match.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Confirm
        open={pending !== null}
        title={pending ? `${ACTION_LABEL[pending.action]} ${pending.ids.length} image${pending.ids.length === 1 ? '' : 's'}${pending.project ? ` with ${pending.project}` : ''}?` : ''}
        body={pending ? `${pending.ids.map(nameOf).join(', ')}.${pending.action === 'delete' ? ' Deleting removes the data too; it cannot be undone.' : ''}` : ''}
        action={pending ? ACTION_LABEL[pending.action] : ''}
        onConfirm={() => pending && void run(pending)}
        onCancel={() => setPending(null)}
      />
    </>
  );
}

/** What can be done to the selected images: each asks for a confirmation first. */
function BulkBar({ ids, onPick }: { ids: string[]; onPick: (work: Pending) => void }) {
  const [shareWith, setShareWith] = useState('');
  return (
    <div class="bulk" role="group" aria-label="Selected images">
      <span>{ids.length} selected</span>
      {(['deactivate', 'reactivate', 'delete'] as Action[]).map((action) => (
        <button key={action} type="button" class={action === 'delete' ? 'danger' : ''} onClick={() => onPick({ action, ids })}>
          {ACTION_LABEL[action]}
        </button>
      ))}
      <input aria-label="Project to share with" placeholder="project id" value={shareWith} onInput={(e) => setShareWith((e.target as HTMLInputElement).value)} />
      <button type="button" disabled={!shareWith.trim()} onClick={() => onPick({ action: 'share', ids, project: shareWith.trim() })}>
        Share
      </button>
    </div>
  );
}

function HeaderRow({ admin, allChosen, onToggleAll }: { admin: boolean; allChosen: boolean; onToggleAll: () => void }) {
  return (
    <tr>
      <th scope="col" class="pick">
        <input type="checkbox" aria-label="Select all shown" checked={allChosen} onChange={onToggleAll} />
      </th>
      <SortHeader label="Name" sortKey="name" />
      <SortHeader label="Status" sortKey="status" />
      <th scope="col">OS</th>
      <th scope="col">Tags</th>
      <th scope="col">Visibility</th>
      <SortHeader label="Disk format" sortKey="disk_format" />
      <SortHeader label="Size" sortKey="size" numeric />
      <th scope="col" class="num">Virtual size</th>
      {admin && <th scope="col">Owner</th>}
      <SortHeader label="Created" sortKey="created_at" />
      <th scope="col">
        <span class="visually-hidden">Actions</span>
      </th>
    </tr>
  );
}

/** One image; on a phone each cell shows its data-label beside it (a card). */
function Row({ image, admin, chosen, onToggle, onPick }: { image: Image; admin: boolean; chosen: boolean; onToggle: () => void; onPick: (action: Action) => void }) {
  return (
    <tr class={chosen ? 'chosen' : ''}>
      <td class="pick">
        <input type="checkbox" aria-label={`Select ${image.name || image.id}`} checked={chosen} onChange={onToggle} />
      </td>
      <td data-label="Name">
        <a href={href('images', image.id)}>{image.name || image.id}</a>
        {image.protected && <span class="badge">protected</span>}
      </td>
      <td data-label="Status">
        <Status status={image.status} />
      </td>
      <td data-label="OS">
        <OperatingSystem image={image} />
      </td>
      <td data-label="Tags">
        {image.tags.length
          ? image.tags.map((t) => (
              <Fragment key={t}>
                <span class="tag">{t}</span>{' '}
              </Fragment>
            ))
          : '—'}
      </td>
      <td data-label="Visibility">{image.visibility}</td>
      <td data-label="Disk format">{image.disk_format ?? '—'}</td>
      <td data-label="Size" class="num">{bytes(image.size)}</td>
      <td data-label="Virtual size" class="num">{bytes(image.virtual_size)}</td>
      {admin && <td data-label="Owner" class="mono">{image.owner ?? '—'}</td>}
      <td data-label="Created">
        <time dateTime={image.created_at} title={date(image.created_at)}>
          {ago(image.created_at)}
        </time>
      </td>
      <td class="row-menu">
        <RowMenu image={image} onPick={onPick} />
      </td>
    </tr>
  );
}

/** A column header that sorts the list on the server: a second click reverses the order. */
function SortHeader({ label, sortKey, numeric }: { label: string; sortKey: string; numeric?: boolean }) {
  const query = route.value.query;
  const currentKey = query.get('sort_key') ?? 'created_at';
  const currentDir = query.get('sort_dir') ?? 'desc';
  const active = currentKey === sortKey;
  const nextDir = active ? (currentDir === 'desc' ? 'asc' : 'desc') : sortKey === 'name' ? 'asc' : 'desc';
  const sort = () => {
    const q = new URLSearchParams(query);
    q.set('sort_key', sortKey);
    q.set('sort_dir', nextDir);
    q.delete('marker');
    go(`#/images?${q}`);
  };
  return (
    <th scope="col" class={numeric ? 'num' : ''} aria-sort={active ? (currentDir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={sort}>
        {label}
        <span aria-hidden="true">{active ? (currentDir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

function RowMenu({ image, onPick }: { image: Image; onPick: (action: Action) => void }) {
  const actions: Action[] = [image.status === 'deactivated' ? 'reactivate' : 'deactivate', 'delete'];
  return (
    <details>
      <summary aria-label={`Actions for ${image.name || image.id}`}>⋯</summary>
      <div class="menu">
        {actions.map((action) => (
          <button key={action} type="button" class={action === 'delete' ? 'danger' : ''} onClick={(e) => {
            (e.currentTarget as HTMLElement).closest('details')?.removeAttribute('open');
            onPick(action);
          }}>
            {ACTION_LABEL[action]}
          </button>
        ))}
      </div>
    </details>
  );
}

/** The OS the owner declared, else the one image insight found inside (marked as found, not declared). */
function OperatingSystem({ image }: { image: Image }) {
  const declared = [image.os_distro, image.os_version].filter(Boolean).join(' ');
  if (declared) return <>{declared}</>;
  const found = [image.glimpse_insight_os_distro, image.glimpse_insight_os_version].filter(Boolean).join(' ');
  if (!found) return <>—</>;
  return (
    <span class="muted" title="Found inside the image by Glimpse's image insight; not set as os_distro">
      {found} (found)
    </span>
  );
}
