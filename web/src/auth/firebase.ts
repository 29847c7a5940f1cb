/** Firebase Auth (email/password and Google). Loaded on demand: local builds never fetch it. */
import { initializeApp, type FirebaseApp } from 'firebase/app';
import {
  createUserWithEmailAndPassword,
  getAuth,
  GoogleAuthProvider,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signInWithPopup,
  signOut,
  type Auth,
  type User,
} from 'firebase/auth';
import type { FirebaseWebConfig } from '../config';
import type { Session } from './session';

let app: FirebaseApp | null = null;

/** The one Firebase app of this page. */
export function firebaseApp(config: FirebaseWebConfig): FirebaseApp {
  app ??= initializeApp(config);
  return app;
}

function toSession(auth: Auth, user: User): Session {
  return {
    uid: user.uid,
    label: user.email ?? user.displayName ?? user.uid,
    token: () => user.getIdToken(),
    signOut: () => signOut(auth),
  };
}

/** Sign-in actions and a subscription to the signed-in user. */
export interface FirebaseAuthApi {
  watch(onSession: (session: Session | null) => void): () => void;
  emailSignIn(email: string, password: string): Promise<void>;
  emailSignUp(email: string, password: string): Promise<void>;
  googleSignIn(): Promise<void>;
}

export function firebaseAuth(config: FirebaseWebConfig): FirebaseAuthApi {
  const auth = getAuth(firebaseApp(config));
  return {
    watch: (onSession) => onAuthStateChanged(auth, (user) => onSession(user ? toSession(auth, user) : null)),
    emailSignIn: async (email, password) => {
      await signInWithEmailAndPassword(auth, email, password);
    },
    emailSignUp: async (email, password) => {
      await createUserWithEmailAndPassword(auth, email, password);
    },
    googleSignIn: async () => {
      await signInWithPopup(auth, new GoogleAuthProvider());
    },
  };
}

/** Firebase Auth's error codes in words a person can act on. */
export function describeAuthError(e: unknown): string {
  const code = (e as { code?: string }).code ?? '';
  const known: Record<string, string> = {
    'auth/invalid-credential': 'The email or password is wrong.',
    'auth/invalid-email': 'That email address is not valid.',
    'auth/user-not-found': 'No account has that email. Create one.',
    'auth/wrong-password': 'The password is wrong.',
    'auth/email-already-in-use': 'An account with that email exists. Sign in instead.',
    'auth/weak-password': 'Choose a longer password (6 characters at least).',
    'auth/popup-closed-by-user': 'The Google sign-in window was closed before signing in.',
    'auth/popup-blocked': 'The browser blocked the Google sign-in window. Allow pop-ups for this site.',
    'auth/network-request-failed': 'The sign-in service cannot be reached. Check your connection.',
    'auth/too-many-requests': 'Too many attempts. Wait a few minutes and try again.',
  };
  return known[code] ?? (e instanceof Error ? e.message : String(e));
}
