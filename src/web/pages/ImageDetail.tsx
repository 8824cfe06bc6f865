/** One image: every field, properties and tags, locations, members, and what can be done with it. */
import { useEffect, useState } from 'preact/hooks';
import { api, patchImage } from '../api';
import { Confirm } from '../components/Confirm';
import { CopyButton } from '../components/CopyButton';
import { Deprecation } from '../components/Deprecation';
import { Download } from '../components/Download';
import { FamilyTimeline } from '../components/FamilyTimeline';
import { Insight } from '../components/Insight';
import { Lineage } from '../components/Lineage';
import { ErrorBox } from '../components/ErrorBox';
import { Members } from '../components/Members';
import { MetadataEditor } from '../components/MetadataEditor';
import { RecordFields, type RecordValues, tagList } from '../components/RecordFields';
import { useAction } from '../components/useAction';
import { useAsync } from '../components/useAsync';
import { bytes, date } from '../format';
import type { Image } from '../../api/wire-types';
import { BUSY_STATUSES, type ImageSchema } from '../images';
import { go, href } from '../router';
import { Status } from '../components/Status';

export function ImageDetail({ id }: { id: string; schema: ImageSchema | null }) {
  const path = `/v2/images/${encodeURIComponent(id)}`;
  const { data: image, error, reload } = useAsync(() => api<Image>('GET', path), [id]);
  const action = useAction(reload);
  const removal = useAction(() => go(href('images')));
  const [confirmDelete, setConfirmDelete] = useState(false);

  const busy = image ? BUSY_STATUSES.has(image.status) : false;
  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(reload, 2000);
    return () => clearInterval(timer);
  }, [busy, reload]);

  if (error) return <ErrorBox error={error} />;
  if (!image) return <p class="loading">Loading…</p>;

  const remove = () => {
    setConfirmDelete(false);
    void removal.run(() => api('DELETE', path));
  };

  return (
    <section aria-labelledby="image-title">
      <div class="heading">
        <h1 id="image-title">{image.name || image.id}</h1>
        <div class="actions">
          {image.status === 'active' && <Download image={image} />}
          {image.status === 'active' && (
            <button type="button" onClick={() => action.run(() => api('POST', `${path}/actions/deactivate`))}>
              Deactivate
            </button>
          )}
          {image.status === 'deactivated' && (
            <button type="button" onClick={() => action.run(() => api('POST', `${path}/actions/reactivate`))}>
              Reactivate
            </button>
          )}
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        </div>
      </div>
      <ErrorBox error={action.error ?? removal.error} />
      <Deprecation image={image} run={action.run} />
      <FamilyTimeline image={image} />
      <Confirm
        open={confirmDelete}
        title={`Delete ${image.name || image.id}?`}
        body="The image record and its data are deleted for good."
        action="Delete image"
        onConfirm={remove}
        onCancel={() => setConfirmDelete(false)}
      />
      <div class="columns">
        <Fields image={image} />
        {/* A form belongs to one image: never another image's values under this one's name. */}
        <EditForm key={image.id} image={image} onSaved={reload} />
      </div>
      <h2>Readiness</h2>
      <Insight key={image.id} image={image} onChanged={reload} />
      <h2>Properties</h2>
      <MetadataEditor key={image.id} image={image} onChanged={reload} />
      <h2>Locations</h2>
      <Locations image={image} />
      <h2>Members</h2>
      <Members key={image.id} image={image} />
      <h2>Lineage</h2>
      <Lineage id={image.id} updatedAt={image.updated_at} />
    </section>
  );
}

function Locations({ image }: { image: Image }) {
  if (!image.locations?.length) return <p>{image.stores ? `Stores: ${image.stores}` : 'No location is shown to you.'}</p>;
  return (
    <ul class="mono">
      {image.locations.map((l) => (
        <li key={l.url}>
          {l.url} {typeof l.metadata.store === 'string' && `(store ${l.metadata.store})`}
        </li>
      ))}
    </ul>
  );
}

function Fields({ image }: { image: Image }) {
  const rows: [string, preact.ComponentChildren][] = [
    ['ID', <Copyable value={image.id} label="image ID" />],
    ['Status', <Status status={image.status} />],
    ['Visibility', image.visibility],
    ['Protected', image.protected ? 'yes' : 'no'],
    ['Hidden', image.os_hidden ? 'yes' : 'no'],
    ['Owner', <span class="mono">{image.owner ?? '—'}</span>],
    ['Disk format', image.disk_format ?? '—'],
    ['Container format', image.container_format ?? '—'],
    ['Size', bytes(image.size)],
    ['Virtual size', bytes(image.virtual_size)],
    ['Minimum disk', `${image.min_disk} GiB`],
    ['Minimum RAM', `${image.min_ram} MiB`],
    ['Checksum (MD5)', image.checksum ? <Copyable value={image.checksum} label="MD5 checksum" /> : '—'],
    [`Hash (${image.os_hash_algo ?? '—'})`, image.os_hash_value ? <Copyable value={image.os_hash_value} label="hash" wrap /> : '—'],
    ['Tags', image.tags.length ? image.tags.join(', ') : '—'],
    ['Created', date(image.created_at)],
    ['Updated', date(image.updated_at)],
  ];
  return (
    <dl class="fields">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function Copyable({ value, label, wrap }: { value: string; label: string; wrap?: boolean }) {
  return (
    <span class="copyable">
      <span class={wrap ? 'mono wrap' : 'mono'}>{value}</span>
      <CopyButton value={value} label={label} />
    </span>
  );
}

function EditForm({ image, onSaved }: { image: Image; onSaved: () => void }) {
  const initial = (): RecordValues => ({
    name: image.name ?? '',
    visibility: image.visibility,
    protected: image.protected,
    tags: image.tags.join(', '),
    min_disk: String(image.min_disk),
    min_ram: String(image.min_ram),
  });
  const [form, setForm] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // The same image changed (saved here, or elsewhere): start again from what is stored.
  useEffect(() => setForm(initial()), [image.updated_at]);
  const set = (k: keyof RecordValues) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setSaved(false);
    setForm({ ...form, [k]: t.type === 'checkbox' ? t.checked : t.value });
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const tags = tagList(form.tags);
    const ops: unknown[] = [];
    if (form.name !== (image.name ?? '')) ops.push({ op: 'replace', path: '/name', value: form.name });
    if (form.visibility !== image.visibility) ops.push({ op: 'replace', path: '/visibility', value: form.visibility });
    if (form.protected !== image.protected) ops.push({ op: 'replace', path: '/protected', value: form.protected });
    if (Number(form.min_disk) !== image.min_disk) ops.push({ op: 'replace', path: '/min_disk', value: Number(form.min_disk) });
    if (Number(form.min_ram) !== image.min_ram) ops.push({ op: 'replace', path: '/min_ram', value: Number(form.min_ram) });
    if (tags.join('\n') !== image.tags.join('\n')) ops.push({ op: 'replace', path: '/tags', value: tags });
    if (ops.length === 0) return;
    try {
      await patchImage(image.id, ops);
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form class="edit" onSubmit={save} aria-label="Edit image">
      <h2>Edit</h2>
      <RecordFields values={form} set={set} />
      <button type="submit" class="primary">
        Save changes
      </button>
      {saved && <p role="status">Saved.</p>}
      <ErrorBox error={error} />
    </form>
  );
}
