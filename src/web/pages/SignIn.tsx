/** Keystone sign-in: the server trades these for a project-scoped token; only the token is kept, for this tab. */
import { useState } from 'preact/hooks';
import { errorMessage } from '../api';
import { ErrorBox } from '../components/ErrorBox';
import { type Session, signedIn } from '../session';

export function SignIn() {
  const [form, setForm] = useState({ username: '', password: '', project: '', domain: 'Default' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/dashboard/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(form),
      });
      if (!res.ok) throw new Error(await errorMessage(res));
      signedIn((await res.json()) as Session);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <h1>Sign in to Glimpse</h1>
      <form onSubmit={submit}>
        <label>
          User name
          <input name="username" autocomplete="username" required value={form.username} onInput={set('username')} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={form.password} onInput={set('password')} />
        </label>
        <label>
          Project
          <input name="project" required value={form.project} onInput={set('project')} />
        </label>
        <label>
          Domain
          <input name="domain" required value={form.domain} onInput={set('domain')} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}
