/** The caller's jobs: the first page from the API, then live updates from the chosen feed. */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job } from '../api/types';
import { mergeJobs, rendersPhrases, withPolledProgress } from '../lib/jobs';
import type { LiveHandlers } from '../live/sse';

const PHRASE_POLL_MS = 2000;

/** Starts a live feed; resolves to its unsubscribe function. */
export type Subscribe = (handlers: LiveHandlers) => Promise<() => void>;

export interface JobsState {
  jobs: Job[];
  /** Why the list or its live feed is not up to date, in words; null when all is well. */
  problem: string | null;
  /** Adds or replaces jobs known from elsewhere (a job just created). */
  upsert(jobs: Job[]): void;
  /** Fetches the next older page; null when there is none. */
  loadOlder: (() => void) | null;
}

export function useJobs(client: ApiClient, subscribe: Subscribe): JobsState {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  // Where the oldest page fetched so far ends (undefined: only the live first page is known yet).
  const [before, setBefore] = useState<number | null | undefined>(undefined);
  const upsert = useCallback((updates: Job[]) => setJobs((current) => mergeJobs(current, updates)), []);

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => void) | null = null;
    const refresh = () =>
      client.listJobs(20).then(
        (page) => {
          if (stopped) return;
          upsert(page.jobs);
          setBefore((current) => (current === undefined ? page.nextBefore : current));
        },
        (e: unknown) => !stopped && setProblem(describeError(e)),
      );
    subscribe({ onJobs: upsert, onConnected: () => void refresh(), onProblem: setProblem }).then(
      (stop) => (stopped ? stop() : (unsubscribe = stop)),
      (e: unknown) => setProblem(describeError(e)),
    );
    return () => {
      stopped = true;
      unsubscribe?.();
    };
  }, [client, subscribe, upsert]);

  // The live feed does not carry phrase progress (the API computes it on read): poll those jobs.
  const rendering = jobs.filter(rendersPhrases).map((j) => j.id).join(',');
  useEffect(() => {
    if (!rendering) return;
    const timer = setInterval(() => {
      for (const id of rendering.split(',')) {
        // A missed poll only delays the bar; the feed still brings the job's end.
        client.job(id).then((polled) => setJobs((current) => withPolledProgress(current, polled)), () => undefined);
      }
    }, PHRASE_POLL_MS);
    return () => clearInterval(timer);
  }, [client, rendering]);

  const loadOlder =
    typeof before === 'number'
      ? () =>
          void client.listJobs(20, before).then(
            (page) => {
              upsert(page.jobs);
              setBefore(page.nextBefore);
            },
            (e: unknown) => setProblem(describeError(e)),
          )
      : null;

  return { jobs, problem, upsert, loadOlder };
}
