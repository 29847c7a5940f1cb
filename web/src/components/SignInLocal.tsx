/** Local sign-in on the embedded stack: pick a user name (a demo user gets starting credits). */
import { useState, type FormEvent } from 'react';
import { describeError } from '../api/errors';
import { signInLocal } from '../auth/local';
import type { Session } from '../auth/session';

interface Props {
  apiBase: string;
  onSession(session: Session): void;
  onSignOut(): void;
}

export function SignInLocal({ apiBase, onSession, onSignOut }: Props) {
  const [uid, setUid] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSession(await signInLocal(apiBase, uid.trim(), onSignOut));
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };

  return (
    <form className="card signin" onSubmit={submit} aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <p className="hint">This is the local stack: any user name works; a new user starts with free credits.</p>
      <label htmlFor="uid">User name</label>
      <input
        id="uid"
        name="uid"
        value={uid}
        onChange={(e) => setUid(e.target.value)}
        pattern="[A-Za-z0-9_\-]{1,64}"
        title="Letters, digits, - and _ (64 at most)"
        required
        autoComplete="username"
        placeholder="e.g. demo"
      />
      <button type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
