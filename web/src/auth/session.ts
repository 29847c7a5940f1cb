/** A signed-in person, whichever way they signed in. */
import type { TokenSource } from '../api/client';

export interface Session {
  uid: string;
  /** A display name for the header (an email, or the local user name). */
  label: string;
  token: TokenSource;
  signOut(): Promise<void>;
}
