/** The jobs list as state: merge live updates, keep newest first, describe progress. */
import { JOB_STAGES, type Job, type JobStage } from '../api/types';

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

/** A person's name for each stage the worker writes (the API's JobStage enum, nothing else). */
export const STAGE_LABELS: Readonly<Record<JobStage, string>> = {
  queued: 'Queued',
  download: 'Fetching the score',
  parse: 'Reading the score and its lyrics',
  phrases: 'Singing',
  done: 'Done',
};

/** The render stages in the order the worker goes through them, with their names for people. */
export const STAGES: readonly { id: JobStage; label: string }[] = JOB_STAGES.map((id) => ({
  id,
  label: STAGE_LABELS[id],
}));

/** A person's name for a stage. */
export function stageLabel(stage: JobStage): string {
  return STAGE_LABELS[stage];
}

/** Overall completion 0..1: the stages before count as done, the current one by its fraction. */
export function overallProgress(job: Pick<Job, 'status' | 'progress'>): number {
  if (job.status === 'completed') return 1;
  const index = JOB_STAGES.indexOf(job.progress.stage);
  if (index < 0) return Math.min(Math.max(job.progress.fraction, 0), 1);
  // Singing the phrases takes nearly all the time; weigh it accordingly so the bar moves evenly.
  const weights = JOB_STAGES.map((s) => (s === 'phrases' ? 8 : 1));
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
