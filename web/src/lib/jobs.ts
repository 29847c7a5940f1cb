/** The jobs list as state: merge live updates, keep newest first, describe progress. */
import type { Job } from '../api/types';

/** Merges `updates` into `jobs` (by id; a later updatedAt wins), newest createdAt first. */
export function mergeJobs(jobs: readonly Job[], updates: readonly Job[]): Job[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  for (const update of updates) {
    const current = byId.get(update.id);
    // Events can arrive out of order with a list fetched at the same time: never go back in time.
    if (!current || update.updatedAt >= current.updatedAt) byId.set(update.id, update);
  }
  return [...byId.values()].sort((a, b) => b.createdAt - a.createdAt);
}

/** True while a job's phrases render: its document's fraction then stays 0 (phrase tasks do not write it). */
export function rendersPhrases(job: Pick<Job, 'status' | 'progress'>): boolean {
  return job.status === 'processing' && job.progress.stage === 'phrases';
}

/**
 * Takes only the progress of a polled copy of a job (the API derives it from the phrase tasks), and
 * only while both copies are rendering phrases: status changes come from the live feed alone.
 */
export function withPolledProgress(jobs: readonly Job[], polled: Job): Job[] {
  return jobs.map((j) =>
    j.id === polled.id && rendersPhrases(j) && rendersPhrases(polled) ? { ...j, progress: polled.progress } : j,
  );
}

/** The render stages in the order the worker goes through them, with their names for people. */
export const STAGES: readonly { id: string; label: string }[] = [
  { id: 'queued', label: 'Queued' },
  { id: 'download', label: 'Fetching the score' },
  { id: 'parse', label: 'Reading the score' },
  { id: 'phonemize', label: 'Turning lyrics into sounds' },
  { id: 'acoustic', label: 'Singing' },
  { id: 'upload', label: 'Saving the audio' },
  { id: 'done', label: 'Done' },
];

/** Other names the worker uses for a stage ("phrases": the song fans out to one task per phrase). */
const ALIASES: Record<string, string> = { phrases: 'acoustic', render: 'acoustic' };

function canonical(stage: string): string {
  return ALIASES[stage] ?? stage;
}

/** A person's name for a stage (unknown stages keep their own name). */
export function stageLabel(stage: string): string {
  return STAGES.find((s) => s.id === canonical(stage))?.label ?? stage;
}

/** Overall completion 0..1: the stages before count as done, the current one by its fraction. */
export function overallProgress(job: Pick<Job, 'status' | 'progress'>): number {
  if (job.status === 'completed') return 1;
  const index = STAGES.findIndex((s) => s.id === canonical(job.progress.stage));
  if (index < 0) return Math.min(Math.max(job.progress.fraction, 0), 1);
  // The singing stage takes nearly all the time; weigh it accordingly so the bar moves evenly.
  const weights = STAGES.map((s) => (s.id === 'acoustic' ? 8 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const before = weights.slice(0, index).reduce((a, b) => a + b, 0);
  const fraction = Math.min(Math.max(job.progress.fraction, 0), 1);
  return Math.min((before + (weights[index] ?? 1) * fraction) / total, 1);
}

/** "12 s", "2 min 5 s". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Time of day of an epoch-seconds stamp, in the person's locale. */
export function formatTime(epochS: number): string {
  return new Date(epochS * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
