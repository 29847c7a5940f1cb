/**
 * Which mode the SPA runs in and where its API is (see web/README.md and docs/operations.md):
 * - local (default): the embedded stack's local sign-in and its /v1/events stream, same origin;
 * - firebase: sign-in with Firebase Auth, live jobs from a Firestore listener, the API at apiBase.
 *
 * Two sources, the later winning, so one build can serve several deployments:
 * 1. build time: VITE_API_BASE (the API's URL) and VITE_FIREBASE_CONFIG (the Firebase web config JSON);
 * 2. run time: `/config.json` next to index.html, `{"apiBase": "...", "firebase": {...}}` (either key
 *    optional), written by whoever deploys the hosting.
 * With an API elsewhere but no Firebase config from either, the config Firebase Hosting itself serves
 * at `/__/firebase/init.json` is used.
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

/** What `/config.json` may hold. */
export interface RuntimeConfig {
  apiBase?: string;
  firebase?: FirebaseWebConfig;
}

type Env = Record<string, string | boolean | undefined>;
/** The subset of `fetch` the loader uses (tests pass their own). */
export type FetchJson = (url: string) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export const RUNTIME_CONFIG_URL = '/config.json';
export const HOSTING_FIREBASE_URL = '/__/firebase/init.json';

/** Raised when the build's VITE_* settings or /config.json are malformed (names the culprit). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The config from VITE_* variables (`import.meta.env` in the app; a plain object in tests). */
export function readConfig(env: Env): AppConfig {
  const text = (name: string): string => {
    const value = env[name];
    return typeof value === 'string' ? value.trim() : '';
  };
  const apiBase = text('VITE_API_BASE').replace(/\/+$/, '');
  if (apiBase && !/^(https?:\/\/[^/]+|\/)/.test(apiBase)) {
    throw new ConfigError(`VITE_API_BASE must be a URL such as https://api-xyz.a.run.app (or a /path), not "${apiBase}"`);
  }
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

/** The build's env with a runtime config laid over it (the runtime values win). */
export function withRuntime(env: Env, runtime: RuntimeConfig): Env {
  const merged: Env = { ...env };
  if (runtime.apiBase !== undefined) {
    if (typeof runtime.apiBase !== 'string') throw new ConfigError(`${RUNTIME_CONFIG_URL}: "apiBase" must be a string`);
    merged.VITE_API_BASE = runtime.apiBase;
  }
  if (runtime.firebase !== undefined) {
    if (typeof runtime.firebase !== 'object' || runtime.firebase === null) {
      throw new ConfigError(`${RUNTIME_CONFIG_URL}: "firebase" must be the Firebase web config object`);
    }
    merged.VITE_FIREBASE_CONFIG = JSON.stringify(runtime.firebase);
  }
  return merged;
}

/** A JSON document served next to the SPA, or null when there is none (404, or the HTML a dev
 * server's SPA fallback answers for any path). A present but broken document is an error. */
async function optionalJson(fetchJson: FetchJson, url: string): Promise<unknown> {
  let response;
  try {
    response = await fetchJson(url);
  } catch {
    return null; // offline or blocked: the build's values stand
  }
  if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return null;
  const body = await response.text();
  try {
    return JSON.parse(body) as unknown;
  } catch (e) {
    throw new ConfigError(`${url} is not JSON: ${String(e)}`);
  }
}

/** The app's config: build-time VITE_* values, then /config.json, then Hosting's Firebase config. */
export async function loadConfig(
  env: Env,
  fetchJson: FetchJson = (url) => fetch(url, { cache: 'no-store' }),
): Promise<AppConfig> {
  const runtime = await optionalJson(fetchJson, RUNTIME_CONFIG_URL);
  if (runtime !== null && (typeof runtime !== 'object' || Array.isArray(runtime))) {
    throw new ConfigError(`${RUNTIME_CONFIG_URL} must be a JSON object like {"apiBase": "https://..."}`);
  }
  let merged = withRuntime(env, (runtime ?? {}) as RuntimeConfig);
  const apiElsewhere = typeof merged.VITE_API_BASE === 'string' && merged.VITE_API_BASE.trim() !== '';
  const hasFirebase = typeof merged.VITE_FIREBASE_CONFIG === 'string' && merged.VITE_FIREBASE_CONFIG.trim() !== '';
  if (apiElsewhere && !hasFirebase) {
    const hosting = await optionalJson(fetchJson, HOSTING_FIREBASE_URL);
    if (hosting !== null) merged = withRuntime(merged, { firebase: hosting as FirebaseWebConfig });
  }
  return readConfig(merged);
}
