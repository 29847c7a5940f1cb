/** Production sign-in: email and password (sign in or create an account), or Google. */
import { useState, type FormEvent } from 'react';
import { describeAuthError, type FirebaseAuthApi } from '../auth/firebase';

export function SignInFirebase({ auth }: { auth: FirebaseAuthApi }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(describeAuthError(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(() => auth.emailSignIn(email, password));
  };

  return (
    <form className="card signin" onSubmit={submit} aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <label htmlFor="email">Email</label>
      <input id="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="email" />
      <label htmlFor="password">Password</label>
      <input
        id="password"
        type="password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        required
        minLength={6}
        autoComplete="current-password"
      />
      <div className="row">
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={(e) => e.currentTarget.form?.reportValidity() && run(() => auth.emailSignUp(email, password))}>
          Create account
        </button>
      </div>
      <button type="button" className="secondary" disabled={busy} onClick={() => run(() => auth.googleSignIn())}>
        Sign in with Google
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
