/** The production live path wired to the app's Firebase project (loaded on demand). */
import { getFirestore } from 'firebase/firestore';
import { firebaseApp } from '../auth/firebase';
import type { FirebaseWebConfig } from '../config';
import { listenJobs } from './firestore';
import type { LiveHandlers } from './sse';

/** Subscribes the signed-in `uid` to their jobs; returns the unsubscribe function. */
export function subscribeFirestore(config: FirebaseWebConfig, uid: string, handlers: LiveHandlers): () => void {
  const db = getFirestore(firebaseApp(config));
  handlers.onConnected();
  return listenJobs(
    db,
    uid,
    (jobs) => {
      handlers.onProblem(null);
      handlers.onJobs(jobs);
    },
    (error) => handlers.onProblem(`Live updates stopped (${error.code}). Reload the page to resume them.`),
  );
}
