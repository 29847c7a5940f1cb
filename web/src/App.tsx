/** Signs the person in (local or Firebase, by build config), then shows the workspace. */
import { lazy, Suspense, useEffect, useState } from 'react';
import { restoreLocal } from './auth/local';
import type { Session } from './auth/session';
import type { FirebaseAuthApi } from './auth/firebase';
import type { AppConfig } from './config';
import { shareToken } from './components/shareToken';
import { SignInLocal } from './components/SignInLocal';

// Loaded when needed: the sign-in page (the first a visitor sees) carries only what it shows.
const Workspace = lazy(() => import('./components/Workspace').then((m) => ({ default: m.Workspace })));
const SharedSong = lazy(() => import('./components/SharedSong').then((m) => ({ default: m.SharedSong })));
const SignInFirebase = lazy(() => import('./components/SignInFirebase').then((m) => ({ default: m.SignInFirebase })));

function useSession(config: AppConfig): { session: Session | null; setSession(s: Session | null): void; auth: FirebaseAuthApi | null } {
  const [session, setSession] = useState<Session | null>(() =>
    config.mode === 'local' ? restoreLocal(() => setSession(null)) : null,
  );
  const [auth, setAuth] = useState<FirebaseAuthApi | null>(null);
  useEffect(() => {
    if (config.mode !== 'firebase') return;
    let unsubscribe: (() => void) | null = null;
    let live = true;
    void import('./auth/firebase').then((m) => {
      if (!live) return;
      const api = m.firebaseAuth(config.firebase);
      setAuth(api);
      unsubscribe = api.watch(setSession);
    });
    return () => {
      live = false;
      unsubscribe?.();
    };
  }, [config]);
  return { session, setSession, auth };
}

function Loading() {
  return (
    <main className="narrow">
      <p className="muted">Loading…</p>
    </main>
  );
}

export function App({ config }: { config: AppConfig }) {
  // A share link plays one song for anyone: no sign-in, nothing else of the owner's.
  const token = typeof window === 'undefined' ? null : shareToken(window.location.pathname);
  if (token) {
    return (
      <Suspense fallback={<Loading />}>
        <SharedSong apiBase={config.apiBase} token={token} />
      </Suspense>
    );
  }
  return <SignedIn config={config} />;
}

function SignedIn({ config }: { config: AppConfig }) {
  const { session, setSession, auth } = useSession(config);
  if (session) {
    return (
      <Suspense fallback={<Loading />}>
        <Workspace key={session.uid} config={config} session={session} />
      </Suspense>
    );
  }
  return (
    <main className="narrow">
      <h1>AI singer</h1>
      <p className="lead">Upload a MusicXML score with lyrics and hear it sung.</p>
      {config.mode === 'local' ? (
        <SignInLocal apiBase={config.apiBase} onSession={setSession} onSignOut={() => setSession(null)} />
      ) : auth ? (
        <Suspense fallback={<p className="muted">Loading sign-in…</p>}>
          <SignInFirebase auth={auth} />
        </Suspense>
      ) : (
        <p className="muted">Loading sign-in…</p>
      )}
    </main>
  );
}
