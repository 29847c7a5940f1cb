/** The caller's jobs: the first page from the API, then live updates from the chosen feed. */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job } from '../api/types';
import { mergeJobs } from '../lib/jobs';
import type { LiveHandlers } from '../live/sse';

/** Starts a live feed; resolves to its unsubscribe function. */
export type Subscribe = (handlers: LiveHandlers) => Promise<() => void>;

export interface JobsState {
  jobs: Job[];
  /** Why the list or its live feed is not up to date, in words; null when all is well. */
  problem: string | null;
  /** Adds or replaces jobs known from elsewhere (a job just created). */
  upsert(jobs: Job[]): void;
}

export function useJobs(client: ApiClient, subscribe: Subscribe): JobsState {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const upsert = useCallback((updates: Job[]) => setJobs((current) => mergeJobs(current, updates)), []);

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => void) | null = null;
    const refresh = () =>
      client.listJobs(20).then(
        (page) => !stopped && upsert(page.jobs),
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

  return { jobs, problem, upsert };
}
