/**
 * An image's extra properties, edited through the metadefs catalog: the
 * namespaces associated with OS::Glance::Image, their properties (names
 * already prefixed for images), types, enums, limits and descriptions; plus
 * free-form key/value pairs for anything the catalog does not describe.
 */
import { useState } from 'preact/hooks';
import { api, patchImage } from '../api';
import type { Image } from '../../api/wire-types';
import { extraProperties } from '../images';
import { ErrorBox } from './ErrorBox';
import { useAsync } from './useAsync';

const RESOURCE_TYPE = 'OS::Glance::Image';

interface PropertyDef {
  title?: string;
  description?: string;
  type?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  readonly?: boolean;
  items?: { enum?: string[] };
}

interface Namespace {
  namespace: string;
  display_name?: string;
  description?: string;
  properties?: Record<string, PropertyDef>;
}

export function MetadataEditor({ image, onChanged }: { image: Image; onChanged: () => void }) {
  const namespaces = useAsync(
    () => api<{ namespaces: Namespace[] }>('GET', `/v2/metadefs/namespaces?resource_types=${RESOURCE_TYPE}&limit=1000`).then((r) => r.namespaces),
    [],
  );
  const [chosen, setChosen] = useState('');
  const detail = useAsync(
    () =>
      chosen
        ? api<Namespace>('GET', `/v2/metadefs/namespaces/${encodeURIComponent(chosen)}?resource_type=${RESOURCE_TYPE}`)
        : Promise.resolve(null),
    [chosen],
  );
  const [error, setError] = useState<unknown>(null);
  const properties = extraProperties(image);
  const present = new Map(properties);

  const apply = async (op: 'add' | 'remove', key: string, value?: string) => {
    setError(null);
    try {
      const path = `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      await patchImage(image.id, [op === 'remove' ? { op, path } : { op, path, value }]);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div class="metadata">
      <PropertyTable properties={properties} onRemove={(k) => void apply('remove', k)} />
      <ErrorBox error={error ?? namespaces.error ?? detail.error} />
      <div class="columns">
        <section aria-labelledby="catalog-title">
          <h3 id="catalog-title">From the metadata catalog</h3>
          <label>
            Namespace
            <select value={chosen} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
              <option value="">choose…</option>
              {namespaces.data?.map((ns) => (
                <option key={ns.namespace} value={ns.namespace}>
                  {ns.display_name || ns.namespace}
                </option>
              ))}
            </select>
          </label>
          {detail.data && (
            <>
              {detail.data.description && <p class="hint">{detail.data.description}</p>}
              <ul class="defs">
                {Object.entries(detail.data.properties ?? {}).map(([name, def]) => (
                  <li key={name}>
                    <CatalogProperty name={name} def={def} current={present.get(name)} onSet={(v) => apply('add', name, v)} />
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
        <FreeForm onSet={(k, v) => apply('add', k, v)} />
      </div>
    </div>
  );
}

/** The image's extra properties, each with its remove button. */
function PropertyTable({ properties, onRemove }: { properties: [string, string][]; onRemove: (key: string) => void }) {
  return (
    <table class="properties">
      <caption class="visually-hidden">Properties of this image</caption>
      <thead>
        <tr>
          <th scope="col">Property</th>
          <th scope="col">Value</th>
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {properties.map(([k, v]) => (
          <tr key={k}>
            <th scope="row" class="mono">
              {k}
            </th>
            <td class="wrap">{v}</td>
            <td>
              <button type="button" aria-label={`Remove ${k}`} onClick={() => onRemove(k)}>
                Remove
              </button>
            </td>
          </tr>
        ))}
        {properties.length === 0 && (
          <tr>
            <td colSpan={3}>No extra properties.</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** One catalog property with the input its type calls for. */
function CatalogProperty({ name, def, current, onSet }: { name: string; def: PropertyDef; current?: string; onSet: (v: string) => Promise<void> }) {
  const [value, setValue] = useState(current ?? '');
  const id = `def-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const choices = def.enum ?? (def.type === 'boolean' ? ['true', 'false'] : null);
  const input = choices ? (
    <select id={id} value={value} onChange={(e) => setValue((e.target as HTMLSelectElement).value)}>
      <option value="">choose…</option>
      {choices.map((c) => (
        <option key={c}>{c}</option>
      ))}
    </select>
  ) : def.type === 'integer' || def.type === 'number' ? (
    <input
      id={id}
      type="number"
      min={def.minimum}
      max={def.maximum}
      step={def.type === 'integer' ? 1 : 'any'}
      value={value}
      onInput={(e) => setValue((e.target as HTMLInputElement).value)}
    />
  ) : (
    <input id={id} type="text" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
  );
  return (
    <form
      class="def"
      onSubmit={(e) => {
        e.preventDefault();
        if (value !== '') void onSet(value);
      }}
    >
      <label for={id}>
        {def.title ?? name} <span class="mono">({name})</span>
      </label>
      {def.description && <p class="hint">{def.description}</p>}
      <div class="row">
        {input}
        <button type="submit" disabled={def.readonly}>
          {current === undefined ? 'Add' : 'Update'}
        </button>
      </div>
    </form>
  );
}

function FreeForm({ onSet }: { onSet: (k: string, v: string) => Promise<void> }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  return (
    <form
      class="freeform"
      aria-labelledby="freeform-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (key) void onSet(key.trim(), value).then(() => (setKey(''), setValue('')));
      }}
    >
      <h3 id="freeform-title">Any property</h3>
      <label>
        Key
        <input name="key" required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Value
        <input name="value" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Set property</button>
    </form>
  );
}
