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

/** Opens a fresh event-stream URL (each carries a short-lived ticket). */
export type EventsUrl = () => Promise<string>;

const RECONNECT_MS = 2000;

/**
 * Subscribes to the event stream; returns the unsubscribe function. `url` gives a fresh URL (a new
 * ticket) for every connection: a ticket is valid for about a minute, so after a drop the stream is
 * reopened with a new one rather than by EventSource's own retry of the old URL.
 */
export function subscribeEvents(url: EventsUrl, handlers: LiveHandlers): () => void {
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  const reconnect = () => {
    source?.close();
    source = null;
    if (!closed && timer === null) timer = setTimeout(open, RECONNECT_MS);
  };

  async function open(): Promise<void> {
    timer = null;
    let target: string;
    try {
      target = await url();
    } catch {
      handlers.onProblem('Live updates are reconnecting…');
      reconnect();
      return;
    }
    if (closed) return;
    const current = new EventSource(target);
    source = current;
    current.addEventListener('open', () => {
      handlers.onProblem(null);
      handlers.onConnected();
    });
    current.addEventListener('job', (event: MessageEvent<string>) => handlers.onJobs([parseJobEvent(event.data)]));
    current.addEventListener('error', () => {
      if (source !== current) return;
      handlers.onProblem('Live updates are reconnecting…');
      reconnect();
    });
  }

  void open();
  return () => {
    closed = true;
    if (timer !== null) clearTimeout(timer);
    source?.close();
  };
}
