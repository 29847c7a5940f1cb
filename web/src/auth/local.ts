/** Local sign-in on the embedded stack: a user name in, an HMAC bearer token out, kept per tab. */
import { ApiClient } from '../api/client';
import type { Token } from '../api/types';
import type { Session } from './session';

const KEY = 'ai-singer.local-token';

function session(token: Token, onSignOut: () => void): Session {
  return {
    uid: token.uid,
    label: token.uid,
    token: () => Promise.resolve(token.token),
    signOut: () => {
      sessionStorage.removeItem(KEY);
      onSignOut();
      return Promise.resolve();
    },
  };
}

/** Signs `uid` in (creating the user with the starting balance on first sign-in). */
export async function signInLocal(apiBase: string, uid: string, onSignOut: () => void): Promise<Session> {
  const anonymous = new ApiClient(apiBase, () => Promise.reject(new Error('not signed in')));
  const token = await anonymous.signInLocal(uid);
  sessionStorage.setItem(KEY, JSON.stringify(token));
  return session(token, onSignOut);
}

/** The session kept in this tab, unless it has expired (a minute of margin). */
export function restoreLocal(onSignOut: () => void): Session | null {
  try {
    const token = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Token | null;
    if (token && token.expiresAt * 1000 > Date.now() + 60_000) return session(token, onSignOut);
  } catch {
    // A corrupt entry is treated as signed out.
  }
  sessionStorage.removeItem(KEY);
  return null;
}
