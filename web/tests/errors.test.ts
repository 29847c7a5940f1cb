import { describe, expect, it } from 'vitest';
import { ApiError, NetworkError } from '../src/api/client';
import { API_ONLY_ERRORS, describeApiError, describeError, describeJobError, JOB_ERRORS } from '../src/api/errors';

describe('job errors', () => {
  // The codes the render task stores (singer_tasks/errors.py).
  const codes = [
    'no_lyrics',
    'no_notes',
    'unsupported_language',
    'song_too_long',
    'score_too_large',
    'unreadable_score',
    'pitch_out_of_range',
    'unreadable_lyric',
    'voice_not_found',
    'bad_checkpoint',
    'voice_lacks_phoneme',
    'voice_unavailable',
    'input_missing',
    'dead_lettered',
  ];

  it.each(codes)('%s gets its own sentence saying what to do', (code) => {
    const text = describeJobError({ code, message: '' });
    expect(text).not.toContain(code);
    expect(text).toMatch(/\. [A-Z]/); // what happened, then at least one instruction
  });

  it('gives every listed code a sentence, and no code is both a job error and API-only', () => {
    for (const [code, text] of Object.entries(JOB_ERRORS)) {
      expect(text, code).toMatch(/\. [A-Z]/);
      expect(API_ONLY_ERRORS).not.toContain(code);
    }
  });

  it('keeps the worker message, which names the numbers', () => {
    const text = describeJobError({ code: 'song_too_long', message: 'the song lasts 200 s and the limit is 180 s' });
    expect(text).toContain('Shorten the score');
    expect(text).toContain('200 s');
  });

  it('falls back to the message for codes it does not know', () => {
    expect(describeJobError({ code: 'brand_new', message: 'something precise' })).toBe('something precise');
    expect(describeJobError({ code: 'brand_new', message: '' })).toContain('brand_new');
  });
});

describe('API errors', () => {
  it('explains credits and rate limits with the API detail', () => {
    const detail = 'a final render reserves 18 credits and you have 4 available; try a preview';
    expect(describeApiError(402, detail)).toMatch(/^Not enough credits: a final render reserves 18/);
    expect(describeApiError(429, 'you already have 3 jobs in progress')).toMatch(/^Too many jobs at once/);
    expect(describeApiError(401, 'expired')).toMatch(/Sign in again/);
    expect(describeApiError(503, 'x')).toMatch(/Try again/);
  });

  it('describes anything the client throws', () => {
    expect(describeError(new ApiError(413, 'the file is larger than the 2000000 byte limit'))).toContain('2000000');
    expect(describeError(new NetworkError(new TypeError('fetch failed')))).toMatch(/cannot be reached/);
    expect(describeError('plain')).toBe('plain');
  });
});
