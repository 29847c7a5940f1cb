/** When the progressive player polls a job's finished phrases. */
import { describe, expect, it } from 'vitest';
import { keepPolling, pollsPhrases } from '../src/hooks/useProgressivePlayback';
import { isRendering } from '../src/lib/jobs';

describe('polling the phrases of a job', () => {
  it('polls while the job renders, followed or not', () => {
    expect(pollsPhrases('pending', false)).toBe(true);
    expect(pollsPhrases('processing', false)).toBe(true);
  });

  it('keeps polling a completed job only if it was followed while rendering', () => {
    expect(pollsPhrases('completed', true)).toBe(true);
    expect(pollsPhrases('completed', false)).toBe(false);
  });

  it('counts pending and processing jobs as rendering', () => {
    expect(isRendering('pending') && isRendering('processing')).toBe(true);
    expect(isRendering('completed') || isRendering('failed') || isRendering('cancelled') || isRendering(null)).toBe(false);
  });

  it('never polls a failed or cancelled job, nor no job', () => {
    for (const followed of [true, false]) {
      expect(pollsPhrases('failed', followed)).toBe(false);
      expect(pollsPhrases('cancelled', followed)).toBe(false);
      expect(pollsPhrases(null, followed)).toBe(false);
    }
  });

  it('polls again until every phrase is fetched, the completed job included', () => {
    expect(keepPolling(0, 0, 'processing')).toBe(true); // the score is not split yet
    expect(keepPolling(23, 24, 'completed')).toBe(true);
    expect(keepPolling(24, 24, 'completed')).toBe(false);
    expect(keepPolling(3, 24, 'failed')).toBe(false);
    expect(keepPolling(3, 24, 'cancelled')).toBe(false);
  });
});
