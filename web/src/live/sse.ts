/** Live jobs on the embedded stack: the API's server-sent events (`event: job`). */
import type { Job } from '../api/types';
import { toJob } from './jobDoc';

/** Callbacks of a live subscription. */
export interface LiveHandlers {
  /** Some jobs changed (a full list from Firestore, single jobs from the event stream). */
  onJobs(jobs: Job[]): void;
  /** The feed (re)connected: refetch what may have been missed while it was down. */
  onConnected(): void;
  /** The feed is down; null once it is back. */
  onProblem(message: string | null): void;
}

/** The Job carried by one `event: job` message. */
export function parseJobEvent(data: string): Job {
  const raw = JSON.parse(data) as Record<string, unknown>;
  return toJob(String(raw.id), raw);
}

/** Subscribes to `url` (which carries the token); returns the unsubscribe function. */
export function subscribeEvents(url: string, handlers: LiveHandlers): () => void {
  const source = new EventSource(url);
  source.addEventListener('open', () => {
    handlers.onProblem(null);
    handlers.onConnected();
  });
  source.addEventListener('job', (event: MessageEvent<string>) => handlers.onJobs([parseJobEvent(event.data)]));
  source.addEventListener('error', () => {
    // EventSource reconnects by itself (the server asks for 2 s) unless the answer was an HTTP error.
    handlers.onProblem(
      source.readyState === EventSource.CLOSED
        ? 'Live updates stopped. Reload the page to resume them.'
        : 'Live updates are reconnecting…',
    );
  });
  return () => source.close();
}
