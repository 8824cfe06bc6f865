/** One metadefs namespace: its properties and objects; admins edit visibility and protection, associate resource types, delete. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Confirm } from '../components/Confirm';
import { ErrorBox } from '../components/ErrorBox';
import { useAction } from '../components/useAction';
import { useAsync } from '../components/useAsync';
import { go, href } from '../router';
import { isAdmin } from '../session';
import type { NamespaceSummary } from './Metadefs';

interface NamespaceDetail extends NamespaceSummary {
  properties?: Record<string, { title?: string; type?: string; description?: string; enum?: string[] }>;
  objects?: { name: string; description?: string }[];
}

export function Namespace({ name }: { name: string }) {
  const path = `/v2/metadefs/namespaces/${encodeURIComponent(name)}`;
  const { data: ns, error, reload } = useAsync(() => api<NamespaceDetail>('GET', path), [name]);
  const action = useAction(reload);
  const removal = useAction(() => go(href('metadefs')));
  const [confirm, setConfirm] = useState(false);
  if (error) return <ErrorBox error={error} />;
  if (!ns) return <p class="loading">Loading…</p>;
  const admin = isAdmin();
  const remove = () => {
    setConfirm(false);
    void removal.run(() => api('DELETE', path));
  };

  return (
    <section aria-labelledby="ns-title">
      <div class="heading">
        <h1 id="ns-title">{ns.display_name || ns.namespace}</h1>
        {admin && (
          <button type="button" class="danger" onClick={() => setConfirm(true)}>
            Delete namespace
          </button>
        )}
      </div>
      <p class="mono">{ns.namespace}</p>
      {ns.description && <p>{ns.description}</p>}
      <ErrorBox error={action.error ?? removal.error} />
      <Confirm
        open={confirm}
        title={`Delete ${ns.namespace}?`}
        body="The namespace, its properties, objects, tags and resource type associations are deleted."
        action="Delete namespace"
        onConfirm={remove}
        onCancel={() => setConfirm(false)}
      />
      {admin && <Settings ns={ns} onSave={(body) => action.run(() => api('PUT', path, { body }))} />}
      <h2>Resource types</h2>
      <ul>
        {ns.resource_type_associations?.map((r) => (
          <li key={r.name}>
            {r.name}
            {r.prefix && <span class="mono"> (prefix {r.prefix})</span>}{' '}
            {admin && (
              <button type="button" onClick={() => action.run(() => api('DELETE', `${path}/resource_types/${encodeURIComponent(r.name)}`))}>
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {admin && <Associate onAdd={(body) => action.run(() => api('POST', `${path}/resource_types`, { body }))} />}
      <h2>Properties</h2>
      <dl class="defs">
        {Object.entries(ns.properties ?? {}).map(([k, p]) => (
          <div key={k}>
            <dt>
              {p.title ?? k} <span class="mono">({k}, {p.type ?? 'any'})</span>
            </dt>
            <dd>
              {p.description}
              {p.enum && <span class="hint"> One of: {p.enum.join(', ')}</span>}
            </dd>
          </div>
        ))}
      </dl>
      {ns.objects && ns.objects.length > 0 && (
        <>
          <h2>Objects</h2>
          <ul>
            {ns.objects.map((o) => (
              <li key={o.name}>
                <strong>{o.name}</strong> {o.description}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Settings({ ns, onSave }: { ns: NamespaceDetail; onSave: (body: unknown) => Promise<void> }) {
  const [visibility, setVisibility] = useState(ns.visibility);
  const [prot, setProt] = useState(ns.protected);
  useEffect(() => {
    setVisibility(ns.visibility);
    setProt(ns.protected);
  }, [ns.visibility, ns.protected]);
  return (
    <form
      class="row"
      aria-label="Namespace settings"
      onSubmit={(e) => {
        e.preventDefault();
        void onSave({ namespace: ns.namespace, display_name: ns.display_name, description: ns.description, visibility, protected: prot });
      }}
    >
      <label>
        Visibility
        <select name="visibility" value={visibility} onChange={(e) => setVisibility((e.target as HTMLSelectElement).value)}>
          <option>public</option>
          <option>private</option>
        </select>
      </label>
      <label class="check">
        <input name="protected" type="checkbox" checked={prot} onChange={(e) => setProt((e.target as HTMLInputElement).checked)} />
        Protected
      </label>
      <button type="submit">Save</button>
    </form>
  );
}

function Associate({ onAdd }: { onAdd: (body: unknown) => Promise<void> }) {
  const types = useAsync(() => api<{ resource_types: { name: string }[] }>('GET', '/v2/metadefs/resource_types').then((r) => r.resource_types), []);
  const [name, setName] = useState('');
  const [prefix, setPrefix] = useState('');
  return (
    <form
      class="row"
      aria-label="Associate a resource type"
      onSubmit={(e) => {
        e.preventDefault();
        if (name) void onAdd(prefix ? { name, prefix } : { name });
      }}
    >
      <label>
        Resource type
        <select name="resource_type" value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)}>
          <option value="">choose…</option>
          {types.data?.map((t) => (
            <option key={t.name}>{t.name}</option>
          ))}
        </select>
      </label>
      <label>
        Prefix
        <input name="prefix" value={prefix} onInput={(e) => setPrefix((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Associate</button>
    </form>
  );
}
