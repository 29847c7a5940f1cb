import { describe, expect, it } from 'vitest';
import type { Job } from '../src/api/types';
import { formatSeconds, mergeJobs, overallProgress, STAGES, stageLabel, withPolledProgress } from '../src/lib/jobs';

function job(id: string, createdAt: number, updatedAt: number, patch: Partial<Job> = {}): Job {
  return {
    id,
    status: 'pending',
    renderType: 'preview',
    voice: 'builtin',
    language: null,
    progress: { stage: 'queued', fraction: 0 },
    error: null,
    credits: { reserved: 6, charged: 0, refunded: 0 },
    attempts: 0,
    createdAt,
    updatedAt,
    ...patch,
  };
}

describe('mergeJobs', () => {
  it('keeps the newest job first and replaces by id', () => {
    const merged = mergeJobs([job('a', 1, 1)], [job('b', 2, 2), job('a', 1, 3, { status: 'processing' })]);
    expect(merged.map((j) => j.id)).toEqual(['b', 'a']);
    expect(merged[1]?.status).toBe('processing');
  });

  it('never lets an older copy of a job overwrite a newer one', () => {
    const done = job('a', 1, 5, { status: 'completed' });
    expect(mergeJobs([done], [job('a', 1, 4, { status: 'processing' })])[0]?.status).toBe('completed');
  });
});

describe('progress', () => {
  it('grows through the stages and reaches 1 only when completed', () => {
    const values = STAGES.slice(0, -1).flatMap((s) =>
      [0, 0.5].map((fraction) => overallProgress({ status: 'processing', progress: { stage: s.id, fraction } })),
    );
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] as number);
    expect(values.at(-1)).toBeLessThan(1);
    expect(overallProgress({ status: 'completed', progress: { stage: 'done', fraction: 0 } })).toBe(1);
  });

  it('names every stage the worker writes, in render order', () => {
    expect(STAGES.map((s) => s.id)).toEqual(['queued', 'download', 'parse', 'phrases', 'done']);
    expect(stageLabel('phrases')).toBe('Singing');
    for (const s of STAGES) expect(s.label).not.toBe(s.id);
  });

  it('formats durations', () => {
    expect(formatSeconds(12.3)).toBe('12 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
  });
});

describe('withPolledProgress', () => {
  const phrases = (fraction: number, patch: Partial<Job> = {}) =>
    job('a', 1, 2, { status: 'processing', progress: { stage: 'phrases', fraction }, ...patch });

  it('takes the polled fraction of phrases done', () => {
    expect(withPolledProgress([phrases(0)], phrases(0.5))[0]?.progress.fraction).toBe(0.5);
  });

  it('never changes a status, nor a job that has moved on', () => {
    const done = job('a', 1, 3, { status: 'completed', progress: { stage: 'done', fraction: 1 } });
    expect(withPolledProgress([phrases(0)], done)[0]?.status).toBe('processing');
    expect(withPolledProgress([done], phrases(0.5))[0]).toEqual(done);
    expect(withPolledProgress([phrases(0)], { ...phrases(0.5), id: 'b' })[0]?.progress.fraction).toBe(0);
  });
});
