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

/** True while a job may still render (and send phrases): pending or processing. */
export function isRendering(status: Job['status'] | null): boolean {
  return status === 'pending' || status === 'processing';
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

/** The one progress figure both the list and the player show: a fraction (null: not measurable yet) and its words. */
export interface ProgressFigure {
  /** 0..1, or null while the stage has no measure (the bar is then indeterminate). */
  fraction: number | null;
  text: string;
}

/**
 * Progress as phrases done of total (the render's real unit of work), with the time estimate when the
 * API has one. Before the phrases are counted the stage's name stands alone, so bar and text agree.
 */
export function progressFigure(job: Pick<Job, 'status' | 'progress'>): ProgressFigure {
  if (job.status === 'completed') return { fraction: 1, text: 'Done' };
  const { stage, done, total, etaSeconds } = job.progress;
  if (job.status === 'pending' || stage === 'queued') return { fraction: null, text: 'Waiting to start' };
  if (stage === 'phrases' && typeof total === 'number' && total > 0) {
    const finished = Math.min(Math.max(done ?? 0, 0), total);
    const eta = typeof etaSeconds === 'number' && etaSeconds > 0 ? ` · about ${formatSeconds(etaSeconds)} left` : '';
    return { fraction: finished / total, text: `Singing: ${finished} of ${plural(total, 'phrase')} done${eta}` };
  }
  if (stage === 'phrases' && job.progress.fraction > 0) {
    const fraction = Math.min(Math.max(job.progress.fraction, 0), 1);
    return { fraction, text: `Singing: ${Math.round(fraction * 100)}% done` };
  }
  return { fraction: null, text: stageLabel(stage) };
}

/** "1 credit", "3 credits" (the plural of `noun` is noun + "s" unless given). */
export function plural(count: number, noun: string, many = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : many}`;
}

/** The name a song goes by: its title, else its file name, else its creation time. */
export function songTitle(job: Pick<Job, 'title' | 'filename' | 'createdAt'>): string {
  return job.title?.trim() || job.filename?.replace(/\.(musicxml|xml|mxl)$/i, '') || `Song of ${formatDate(job.createdAt)}`;
}

/** The settings a render was made with, in words ('' for the defaults). */
export function renderSettings(job: Pick<Job, 'keyShift' | 'tempoFactor' | 'verse' | 'part' | 'renderType' | 'speaker'>): string {
  const parts: string[] = [];
  if (job.speaker) parts.push(job.speaker);
  if (job.keyShift) parts.push(`key ${job.keyShift > 0 ? '+' : '−'}${plural(Math.abs(job.keyShift), 'semitone')}`);
  if (job.tempoFactor && Math.abs(job.tempoFactor - 1) > 1e-6) parts.push(`tempo ×${Number(job.tempoFactor.toFixed(2))}`);
  if (job.verse) parts.push(`verse ${job.verse}`);
  if (job.part) parts.push(`part ${job.part}`);
  if (job.renderType === 'final') parts.push('final');
  return parts.join(' · ');
}

/** "12 s", "2 min 5 s". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** "Today 20:53", "Yesterday 09:10", "28 Nov 20:53", with the year when it is not this year. */
export function formatDate(epochS: number, now: Date = new Date()): string {
  const date = new Date(epochS * 1000);
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(date)) / 86_400_000);
  if (days === 0) return `Today ${time}`;
  if (days === 1) return `Yesterday ${time}`;
  const sameYear = date.getFullYear() === now.getFullYear();
  const when = date.toLocaleDateString([], { day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }) });
  return `${when} ${time}`;
}

/** Time of day of an epoch-seconds stamp, in the person's locale. */
export function formatTime(epochS: number): string {
  return new Date(epochS * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
