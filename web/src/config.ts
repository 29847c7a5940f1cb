/**
 * Which mode the SPA runs in, fixed at build time by VITE_* variables (see web/README.md):
 * - local (default): the embedded stack's local sign-in and its /v1/events stream, same origin;
 * - firebase: VITE_FIREBASE_CONFIG holds the Firebase web config JSON; sign-in with Firebase Auth,
 *   live jobs from a Firestore listener, the API at VITE_API_BASE.
 */

/** The Firebase web app config (the public fields of the console's snippet). */
export interface FirebaseWebConfig {
  apiKey: string;
  authDomain: string;
  projectId: string;
  appId: string;
  storageBucket?: string;
  messagingSenderId?: string;
}

export type AppConfig =
  | { mode: 'local'; apiBase: string }
  | { mode: 'firebase'; apiBase: string; firebase: FirebaseWebConfig };

/** Raised when the build's VITE_* settings are malformed (names the variable). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The config from VITE_* variables (`import.meta.env` in the app; a plain object in tests). */
export function readConfig(env: Record<string, string | boolean | undefined>): AppConfig {
  const text = (name: string): string => {
    const value = env[name];
    return typeof value === 'string' ? value.trim() : '';
  };
  const apiBase = text('VITE_API_BASE').replace(/\/+$/, '');
  const raw = text('VITE_FIREBASE_CONFIG');
  if (!raw) return { mode: 'local', apiBase };
  let firebase: FirebaseWebConfig;
  try {
    firebase = JSON.parse(raw) as FirebaseWebConfig;
  } catch (e) {
    throw new ConfigError(`VITE_FIREBASE_CONFIG is not JSON: ${String(e)}`);
  }
  for (const key of ['apiKey', 'authDomain', 'projectId', 'appId'] as const) {
    if (typeof firebase[key] !== 'string' || !firebase[key]) {
      throw new ConfigError(`VITE_FIREBASE_CONFIG lacks "${key}": paste the web app config from the Firebase console`);
    }
  }
  if (!apiBase) throw new ConfigError('VITE_API_BASE must name the API (its Cloud Run URL) when Firebase is used');
  return { mode: 'firebase', apiBase, firebase };
}
