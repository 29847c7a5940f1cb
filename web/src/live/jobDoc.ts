/** Job documents (Firestore's `jobs/{id}` or the event stream's JSON) into the Job type. */
import { JOB_STAGES, JOB_STATUSES, type Job, type JobStage, type JobStatus, type RenderType, type Share } from '../api/types';

/** Seconds from an epoch-seconds number or a Firestore Timestamp (anything with toMillis). */
function seconds(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (value && typeof (value as { toMillis?: unknown }).toMillis === 'function') {
    return (value as { toMillis(): number }).toMillis() / 1000;
  }
  return null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function shareOf(value: unknown): Share | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const expiresAt = seconds(v.expiresAt);
  return typeof v.token === 'string' && typeof v.url === 'string' && expiresAt !== null
    ? { token: v.token, url: v.url, expiresAt }
    : null;
}

/** Raised when a document is not a job (names the field). */
export class JobDocError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobDocError';
  }
}

/**
 * The fields the SPA shows; server-only fields (inputPath, outputPath, outputs, userId) are dropped
 * so the same type comes out of both live paths.
 */
export function toJob(id: string, data: Record<string, unknown>): Job {
  const status = data.status as JobStatus;
  if (!JOB_STATUSES.includes(status)) throw new JobDocError(`job ${id} has no valid status (${String(data.status)})`);
  const progress = (data.progress ?? {}) as {
    stage?: JobStage;
    fraction?: number;
    done?: unknown;
    total?: unknown;
    etaSeconds?: unknown;
  };
  const stage = progress.stage ?? 'queued';
  if (!JOB_STAGES.includes(stage)) throw new JobDocError(`job ${id} has no valid stage (${String(stage)})`);
  const credits = (data.credits ?? {}) as Partial<Job['credits']>;
  const createdAt = seconds(data.createdAt);
  if (createdAt === null) throw new JobDocError(`job ${id} has no createdAt`);
  return {
    id,
    status,
    renderType: (data.renderType as RenderType) ?? 'final',
    voice: typeof data.voice === 'string' ? data.voice : '',
    speaker: typeof data.speaker === 'string' ? data.speaker : null,
    expression: data.expression === 'voice' || data.expression === 'score' ? data.expression : null,
    language: typeof data.language === 'string' ? data.language : null,
    progress: {
      stage,
      fraction: progress.fraction ?? 0,
      done: num(progress.done),
      total: num(progress.total),
      etaSeconds: num(progress.etaSeconds),
    },
    error: (data.error as Job['error']) ?? null,
    credits: { reserved: credits.reserved ?? 0, charged: credits.charged ?? 0, refunded: credits.refunded ?? 0 },
    attempts: typeof data.attempts === 'number' ? data.attempts : 0,
    durationSeconds: typeof data.durationSeconds === 'number' ? data.durationSeconds : null,
    createdAt,
    updatedAt: seconds(data.updatedAt) ?? createdAt,
    startedAt: seconds(data.startedAt),
    finishedAt: seconds(data.finishedAt),
    ...(typeof data.title === 'string' ? { title: data.title } : {}),
    ...(typeof data.scoreId === 'string' ? { scoreId: data.scoreId } : {}),
    ...(typeof data.filename === 'string' ? { filename: data.filename } : {}),
    keyShift: num(data.keyShift) ?? 0,
    tempoFactor: num(data.tempoFactor) ?? 1,
    verse: typeof data.verse === 'string' ? data.verse : null,
    part: typeof data.part === 'string' ? data.part : null,
    share: shareOf(data.share),
  };
}
