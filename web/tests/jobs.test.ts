import { describe, expect, it } from 'vitest';
import type { Job } from '../src/api/types';
import {
  formatDate,
  formatSeconds,
  mergeJobs,
  plural,
  progressFigure,
  renderSettings,
  songTitle,
  STAGES,
  stageLabel,
  withPolledProgress,
} from '../src/lib/jobs';

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
  it('is phrases done of total, the bar and the words saying the same number', () => {
    const figure = progressFigure({ status: 'processing', progress: { stage: 'phrases', fraction: 0.2, done: 3, total: 12, etaSeconds: 21 } });
    expect(figure.fraction).toBe(0.25);
    expect(figure.text).toBe('Singing: 3 of 12 phrases done · about 21 s left');
    // One phrase: "1 of 1 phrase", and 0 done is 0, not a guess.
    expect(progressFigure({ status: 'processing', progress: { stage: 'phrases', fraction: 0, done: 0, total: 1 } }).text).toBe(
      'Singing: 0 of 1 phrase done',
    );
  });

  it('has no number before there is one to measure, and is whole only when completed', () => {
    expect(progressFigure({ status: 'pending', progress: { stage: 'queued', fraction: 0 } })).toEqual({ fraction: null, text: 'Waiting to start' });
    expect(progressFigure({ status: 'processing', progress: { stage: 'parse', fraction: 0.9 } }).fraction).toBeNull();
    expect(progressFigure({ status: 'processing', progress: { stage: 'phrases', fraction: 0.5 } })).toEqual({
      fraction: 0.5,
      text: 'Singing: 50% done',
    });
    expect(progressFigure({ status: 'completed', progress: { stage: 'done', fraction: 0 } }).fraction).toBe(1);
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

describe('library words', () => {
  it('counts in words with the right plural', () => {
    expect(plural(1, 'credit')).toBe('1 credit');
    expect(plural(0, 'credit')).toBe('0 credits');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });

  it('names a song by its title, else its file, else its date', () => {
    expect(songTitle({ title: ' Twinkle ', createdAt: 0 })).toBe('Twinkle');
    expect(songTitle({ title: '', filename: 'ode.musicxml', createdAt: 0 })).toBe('ode');
    expect(songTitle({ createdAt: 1_700_000_000 })).toMatch(/^Song of /);
  });

  it('says which settings a render used, nothing for the defaults', () => {
    expect(renderSettings({ renderType: 'preview', keyShift: 0, tempoFactor: 1 })).toBe('');
    expect(renderSettings({ renderType: 'final', keyShift: -2, tempoFactor: 1.5, verse: '2', part: 'P1' })).toBe(
      'key −2 semitones · tempo ×1.5 · verse 2 · part P1 · final',
    );
    expect(renderSettings({ renderType: 'preview', keyShift: 1 })).toBe('key +1 semitone');
  });

  it('dates a song relative to today', () => {
    const now = new Date(2026, 11, 1, 20, 0);
    expect(formatDate(new Date(2026, 11, 1, 9, 5).getTime() / 1000, now)).toMatch(/^Today /);
    expect(formatDate(new Date(2026, 10, 30, 9, 5).getTime() / 1000, now)).toMatch(/^Yesterday /);
    expect(formatDate(new Date(2025, 0, 3, 9, 5).getTime() / 1000, now)).toContain('2025');
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
