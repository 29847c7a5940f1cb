/** Live jobs in production: a Firestore listener on the caller's jobs, newest first. */
import {
  collection,
  limit,
  onSnapshot,
  orderBy,
  query,
  where,
  type Firestore,
  type FirestoreError,
} from 'firebase/firestore';
import type { Job } from '../api/types';
import { JobDocError, toJob } from './jobDoc';

/**
 * Listens to `jobs` where userId == uid order by createdAt desc (the query firestore.rules allows and
 * firestore.indexes.json indexes); `onJobs` gets the whole current list on every change.
 */
export function listenJobs(
  db: Firestore,
  uid: string,
  onJobs: (jobs: Job[]) => void,
  onError: (error: FirestoreError) => void,
  max = 20,
): () => void {
  const q = query(collection(db, 'jobs'), where('userId', '==', uid), orderBy('createdAt', 'desc'), limit(max));
  return onSnapshot(
    q,
    (snap) => {
      const jobs: Job[] = [];
      for (const doc of snap.docs) {
        try {
          jobs.push(toJob(doc.id, doc.data()));
        } catch (e) {
          // One malformed document (a half-migrated field) must not hide every other job.
          if (!(e instanceof JobDocError)) throw e;
        }
      }
      onJobs(jobs);
    },
    onError,
  );
}
