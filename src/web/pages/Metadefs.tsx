/** The metadata definitions catalog: every namespace the caller can see; admins import new ones from JSON files. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { useAsync } from '../components/useAsync';
import { go, href } from '../router';
import { isAdmin } from '../session';

export interface NamespaceSummary {
  namespace: string;
  display_name?: string;
  description?: string;
  visibility: string;
  protected: boolean;
  owner?: string;
  resource_type_associations?: { name: string; prefix?: string; properties_target?: string }[];
}

export function Metadefs() {
  const { data, error, reload } = useAsync(
    () => api<{ namespaces: NamespaceSummary[] }>('GET', '/v2/metadefs/namespaces?limit=1000&sort_key=namespace&sort_dir=asc').then((r) => r.namespaces),
    [],
  );
  return (
    <section aria-labelledby="metadefs-title">
      <h1 id="metadefs-title">Metadata definitions</h1>
      <ErrorBox error={error} />
      {isAdmin() && <ImportNamespace onImported={reload} />}
      <table>
        <caption class="visually-hidden">Namespaces</caption>
        <thead>
          <tr>
            <th scope="col">Namespace</th>
            <th scope="col">Name</th>
            <th scope="col">Visibility</th>
            <th scope="col">Protected</th>
            <th scope="col">Resource types</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((ns) => (
            <tr key={ns.namespace}>
              <td>
                <a href={href('metadefs', ns.namespace)}>{ns.namespace}</a>
              </td>
              <td>{ns.display_name ?? '—'}</td>
              <td>{ns.visibility}</td>
              <td>{ns.protected ? 'yes' : 'no'}</td>
              <td>{ns.resource_type_associations?.map((r) => r.name).join(', ') || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** A namespace file in Glance's format (what `glance-manage db_load_metadefs` reads) becomes one POST. */
function ImportNamespace({ onImported }: { onImported: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('file') as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      let doc: { namespace?: string };
      try {
        doc = JSON.parse(await file.text()) as { namespace?: string };
      } catch {
        throw new Error(`${file.name} is not a JSON file.`);
      }
      await api('POST', '/v2/metadefs/namespaces', { body: doc });
      onImported();
      if (doc.namespace) go(href('metadefs', doc.namespace));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="row" onSubmit={submit} aria-label="Import a namespace">
      <label>
        Import a namespace (JSON file)
        <input name="file" type="file" accept=".json,application/json" required />
      </label>
      <button type="submit" disabled={busy}>
        Import
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
