/**
 * Create an image record, then give it data: a direct upload with progress
 * and cancel, or an interoperable import (stage + glance-direct, or a
 * web-download URL) when the server enables it.
 */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { RecordFields, type RecordValues, tagList } from '../components/RecordFields';
import { UploadProgress } from '../components/UploadProgress';
import { useAsync } from '../components/useAsync';
import type { Image } from '../../api/wire-types';
import { type ImageSchema, schemaEnum } from '../images';
import { go, href } from '../router';
import { type Progress, type Upload, uploadFile } from '../upload';

type Method = 'upload' | 'glance-direct' | 'web-download' | 'none';
type Setter = (key: 'disk_format' | 'container_format' | 'properties' | 'method' | 'url') => (e: Event) => void;

const EMPTY_FORM = {
  name: '',
  disk_format: 'qcow2',
  container_format: 'bare',
  min_disk: '0',
  min_ram: '0',
  visibility: 'private',
  protected: false,
  tags: '',
  properties: '',
  method: 'upload' as Method,
  url: '',
};

export function CreateImage({ schema }: { schema: ImageSchema | null }) {
  const methods = useAsync(
    () => api<{ 'import-methods': { value: string[] } }>('GET', '/v2/info/import').then((r) => r['import-methods'].value),
    [],
  );
  const [form, setForm] = useState(EMPTY_FORM);
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [upload, setUpload] = useState<Upload | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<Image | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setForm({ ...form, [k]: t.type === 'checkbox' ? t.checked : t.value });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    let image = created;
    try {
      image ??= await api<Image>('POST', '/v2/images', { body: record(form) });
      setCreated(image);
      await giveData(image);
      go(href('images', image.id));
    } catch (err) {
      setError(refusal(err, image));
    } finally {
      setBusy(false);
      setUpload(null);
    }
  };

  const giveData = async (image: Image) => {
    const id = encodeURIComponent(image.id);
    if (form.method === 'web-download') {
      await api('POST', `/v2/images/${id}/import`, { body: { method: { name: 'web-download', uri: form.url } } });
      return;
    }
    if (form.method === 'none' || !file) return;
    const target = form.method === 'glance-direct' ? `/v2/images/${id}/stage` : `/v2/images/${id}/file`;
    const started = uploadFile(target, file, setProgress);
    setUpload(started);
    await started.done;
    if (form.method === 'glance-direct') {
      await api('POST', `/v2/images/${id}/import`, { body: { method: { name: 'glance-direct' } } });
    }
  };

  return (
    <section aria-labelledby="create-title">
      <h1 id="create-title">Create image</h1>
      <form class="create" onSubmit={submit}>
        <fieldset disabled={busy || created !== null}>
          <legend>Record</legend>
          <RecordFields values={form} set={set} />
          <FormatFields values={form} set={set} diskFormats={schemaEnum(schema, 'disk_format')} containerFormats={schemaEnum(schema, 'container_format')} />
        </fieldset>
        <fieldset disabled={busy}>
          <legend>Data</legend>
          <DataFields values={form} set={set} available={methods.data ?? []} setFile={setFile} />
        </fieldset>
        {progress && <UploadProgress progress={progress} onCancel={upload ? () => upload.cancel() : undefined} />}
        <ErrorBox error={error} />
        {created && !busy && (
          <p>
            The image record exists: <a href={href('images', created.id)}>open {created.name}</a>, or choose another file and try again.
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Working…' : created ? 'Retry data' : 'Create image'}
        </button>
      </form>
    </section>
  );
}

function record(form: RecordValues & { disk_format: string; container_format: string; properties: string }) {
  const body: Record<string, unknown> = {
    name: form.name,
    disk_format: form.disk_format,
    container_format: form.container_format,
    min_disk: Number(form.min_disk) || 0,
    min_ram: Number(form.min_ram) || 0,
    visibility: form.visibility,
    protected: form.protected,
    tags: tagList(form.tags),
  };
  for (const line of form.properties.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) body[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return body;
}

/** The format inspector's refusal (415) is the answer people most need to read. */
function refusal(err: unknown, image: Image | null): unknown {
  if (err instanceof ApiError && err.status === 415) {
    return new Error(`The image data was refused: ${err.message} The record ${image?.name ?? ''} stays queued, without data.`);
  }
  return err;
}

/** What the data is: its disk and container formats (the schema's lists) and extra properties. */
function FormatFields({ values, set, diskFormats, containerFormats }: { values: { disk_format: string; container_format: string; properties: string }; set: Setter; diskFormats: string[]; containerFormats: string[] }) {
  return (
    <>
      <label>
        Disk format
        <select name="disk_format" value={values.disk_format} onChange={set('disk_format')}>
          {diskFormats.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </label>
      <label>
        Container format
        <select name="container_format" value={values.container_format} onChange={set('container_format')}>
          {containerFormats.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </label>
      <label>
        Properties (one key=value per line)
        <textarea name="properties" rows={3} value={values.properties} onInput={set('properties')} />
      </label>
    </>
  );
}

/** How the data comes: an upload, a staged file imported, a URL, or none yet (only the methods the server enables). */
function DataFields({ values, set, available, setFile }: { values: { method: Method; url: string }; set: Setter; available: string[]; setFile: (f: File | null) => void }) {
  return (
    <>
      <label>
        How
        <select name="method" value={values.method} onChange={set('method')}>
          <option value="upload">Upload a file</option>
          {available.includes('glance-direct') && <option value="glance-direct">Stage a file, then import (glance-direct)</option>}
          {available.includes('web-download') && <option value="web-download">Import from a URL (web-download)</option>}
          <option value="none">No data yet</option>
        </select>
      </label>
      {(values.method === 'upload' || values.method === 'glance-direct') && (
        <label>
          File
          <input name="file" type="file" required onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        </label>
      )}
      {values.method === 'web-download' && (
        <label>
          URL
          <input name="url" type="url" required value={values.url} onInput={set('url')} />
        </label>
      )}
    </>
  );
}
