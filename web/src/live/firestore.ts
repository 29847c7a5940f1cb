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
import { toJob } from './jobDoc';

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
  return onSnapshot(q, (snap) => onJobs(snap.docs.map((d) => toJob(d.id, d.data()))), onError);
}
