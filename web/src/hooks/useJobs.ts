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
  /** Whether the first page has been fetched (or failed): the page lays out once, without shifts. */
  loaded: boolean;
  /** Drops a job (deleted). */
  remove(id: string): void;
  /** Fetches the next older page; null when there is none. */
  loadOlder: (() => void) | null;
}

export function useJobs(client: ApiClient, subscribe: Subscribe): JobsState {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  // Where the oldest page fetched so far ends (undefined: only the live first page is known yet).
  const [before, setBefore] = useState<number | null | undefined>(undefined);
  // Deleted jobs stay out even if a late event or list page still carries them.
  const [gone] = useState(() => new Set<string>());
  const upsert = useCallback(
    (updates: Job[]) => setJobs((current) => mergeJobs(current, updates.filter((j) => !gone.has(j.id)))),
    [gone],
  );
  const remove = useCallback(
    (id: string) => {
      gone.add(id);
      setJobs((current) => current.filter((j) => j.id !== id));
    },
    [gone],
  );
  // A page cursor counts only when something is older than it: the API hands one out whenever a page
  // is full, so one job past it is asked for before "Show older songs" is offered.
  const olderThan = useCallback(
    (next: number | null): Promise<number | null> =>
      next === null
        ? Promise.resolve(null)
        : client.listJobs(1, next).then(
            (older) => (older.jobs.length > 0 ? next : null),
            // Unknown: offer the button; pressing it asks again.
            () => next,
          ),
    [client],
  );

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => void) | null = null;
    const refresh = () =>
      client.listJobs(20).then(
        async (page) => {
          if (stopped) return;
          upsert(page.jobs);
          const next = await olderThan(page.nextBefore);
          if (stopped) return;
          setBefore((current) => (current === undefined ? next : current));
          setLoaded(true);
        },
        (e: unknown) => {
          if (stopped) return;
          setProblem(describeError(e));
          setLoaded(true);
        },
      );
    // A feed that cannot connect still lets the page show (with the problem said).
    const onProblem = (message: string | null) => {
      setProblem(message);
      if (message) setLoaded(true);
    };
    subscribe({ onJobs: upsert, onConnected: () => void refresh(), onProblem }).then(
      (stop) => (stopped ? stop() : (unsubscribe = stop)),
      (e: unknown) => {
        setProblem(describeError(e));
        setLoaded(true);
      },
    );
    return () => {
      stopped = true;
      unsubscribe?.();
    };
  }, [client, subscribe, upsert, olderThan]);

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
            async (page) => {
              upsert(page.jobs);
              setBefore(await olderThan(page.nextBefore));
            },
            (e: unknown) => setProblem(describeError(e)),
          )
      : null;

  return { jobs, problem, loaded, upsert, remove, loadOlder };
}
