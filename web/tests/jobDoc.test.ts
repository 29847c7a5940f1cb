import { describe, expect, it } from 'vitest';
import { JobDocError, toJob } from '../src/live/jobDoc';
import { parseJobEvent } from '../src/live/sse';

const doc = {
  userId: 'alice',
  status: 'processing',
  renderType: 'final',
  voice: 'builtin',
  language: 'en',
  inputPath: 'uploads/alice/x.musicxml',
  outputPath: null,
  progress: { stage: 'phrases', fraction: 0.25 },
  error: null,
  attempts: 1,
  credits: { reserved: 18, charged: 0, refunded: 0 },
  createdAt: 100.5,
  updatedAt: 101,
};

describe('toJob', () => {
  it('keeps what the SPA shows and drops server paths', () => {
    const job = toJob('j1', doc);
    expect(job).toMatchObject({ id: 'j1', status: 'processing', progress: { stage: 'phrases', fraction: 0.25 } });
    expect(job.createdAt).toBe(100.5);
    expect('inputPath' in job).toBe(false);
    expect('userId' in job).toBe(false);
  });

  it('accepts Firestore Timestamps as well as epoch seconds', () => {
    const stamp = { toMillis: () => 200_000 };
    const job = toJob('j2', { ...doc, createdAt: stamp, updatedAt: stamp });
    expect(job.createdAt).toBe(200);
    expect(job.updatedAt).toBe(200);
  });

  it('refuses a document that is not a job, naming it', () => {
    expect(() => toJob('j3', { ...doc, status: 'weird' })).toThrow(JobDocError);
    expect(() => toJob('j6', { ...doc, progress: { stage: 'acoustic', fraction: 0 } })).toThrow(/j6 has no valid stage/);
    expect(() => toJob('j4', { ...doc, createdAt: undefined })).toThrow(/j4 has no createdAt/);
  });
});

describe('parseJobEvent', () => {
  it('reads the Job JSON of an `event: job` message', () => {
    const job = parseJobEvent(JSON.stringify({ id: 'j5', ...doc, status: 'completed', durationSeconds: 12.31 }));
    expect(job.id).toBe('j5');
    expect(job.durationSeconds).toBe(12.31);
  });
});
