/** The dashboard shell: sign-in when Keystone asks for it, then the pages by hash route. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { Cache } from './pages/Cache';
import { CreateImage } from './pages/CreateImage';
import { ImageDetail } from './pages/ImageDetail';
import { Images } from './pages/Images';
import { Metadefs } from './pages/Metadefs';
import { Namespace } from './pages/Namespace';
import { SignIn } from './pages/SignIn';
import type { ImageSchema } from './images';
import { href, route } from './router';
import { type AuthMode, authMode, isAdmin, session, signOut } from './session';
import './style.css';

function App() {
  const [schema, setSchema] = useState<ImageSchema | null>(null);
  /** This node's image cache (its maximum size), when it has one. */
  const [cache, setCache] = useState<{ maxSize: number } | null>(null);
  const mode = authMode.value;
  const s = session.value;

  useEffect(() => {
    fetch('/dashboard/config.json')
      .then((r) => r.json() as Promise<{ auth: AuthMode; cache: { maxSize: number } | null }>)
      .then((c) => {
        setCache(c.cache ?? null);
        authMode.value = c.auth;
      })
      .catch(() => (authMode.value = 'noauth'));
  }, []);
  const needsSignIn = mode === 'keystone' && !s;
  useEffect(() => {
    if (mode && !needsSignIn) api<ImageSchema>('GET', '/v2/schemas/image').then(setSchema, () => setSchema(null));
  }, [mode, needsSignIn]);

  if (!mode) return <p class="loading">Loading…</p>;
  if (needsSignIn) return <SignIn />;

  const [page, id] = route.value.path;
  return (
    <>
      <header class="top">
        <a class="brand" href={href('images')}>
          Glimpse
        </a>
        <nav aria-label="Main">
          <a href={href('images')} aria-current={!page || page === 'images' ? 'page' : undefined}>
            Images
          </a>
          <a href={href('metadefs')} aria-current={page === 'metadefs' ? 'page' : undefined}>
            Metadata definitions
          </a>
          {cache && isAdmin() && (
            <a href={href('cache')} aria-current={page === 'cache' ? 'page' : undefined}>
              Cache
            </a>
          )}
        </nav>
        <span class="who">
          {s ? `${s.user.name} · ${s.project.name}${isAdmin() ? ' · admin' : ''}` : `${mode} mode`}
          {s && (
            <button type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          )}
        </span>
      </header>
      <main>
        {page === 'create' ? (
          <CreateImage schema={schema} />
        ) : page === 'images' && id ? (
          // Keyed by id: going from one image straight to another (a link, back, forward) starts a new page, never one holding the last image's form.
          <ImageDetail key={id} id={id} schema={schema} />
        ) : page === 'metadefs' && id ? (
          <Namespace key={id} name={id} />
        ) : page === 'metadefs' ? (
          <Metadefs />
        ) : page === 'cache' ? (
          <Cache maxSize={cache?.maxSize ?? null} />
        ) : (
          <Images schema={schema} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
