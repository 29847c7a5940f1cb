import { describe, expect, it } from 'vitest';
import type { Display } from '../src/api/types';
import { f0Segments, hzToMidi, layout, noteName, pitchToY, timeToX, xToTime } from '../src/lib/roll';

const display: Display = {
  duration: 2,
  notes: [
    { onset: 0, duration: 1, pitch: 60, lyric: 'Twin' },
    { onset: 1, duration: 1, pitch: 67, lyric: 'kle' },
  ],
  phonemes: [],
  f0: [
    [0, 261.63],
    [0.5, 0],
    [1, 392],
    [1.5, 392],
  ],
};

describe('pitch and time geometry', () => {
  it('maps A4 = 440 Hz to MIDI 69 and an octave to 12 semitones', () => {
    expect(hzToMidi(440)).toBeCloseTo(69, 9);
    expect(hzToMidi(880) - hzToMidi(440)).toBeCloseTo(12, 9);
    expect(hzToMidi(261.63)).toBeCloseTo(60, 2);
  });

  it('fits every note with a margin, higher pitches drawn higher', () => {
    const l = layout(display, 100);
    expect(l.lowPitch).toBeLessThan(60);
    expect(l.highPitch).toBeGreaterThan(67);
    expect(pitchToY(l, 67)).toBeLessThan(pitchToY(l, 60));
    expect(pitchToY(l, l.lowPitch) + l.rowHeight).toBeLessThanOrEqual(l.height - 2 * l.laneHeight);
    expect(l.width).toBe(200);
  });

  it('turns x back into time, clamped to the song', () => {
    const l = layout(display, 100);
    expect(xToTime(l, timeToX(l, 1.25))).toBeCloseTo(1.25, 9);
    expect(xToTime(l, -50)).toBe(0);
    expect(xToTime(l, 10_000)).toBe(2);
  });

  it('splits the f0 curve where the voice is silent and drops single points', () => {
    const l = layout(display, 100);
    const segments = f0Segments(l, display.f0);
    expect(segments).toHaveLength(1);
    expect(segments[0]?.split(' ')).toHaveLength(2);
    expect(segments[0]?.startsWith('100.0,')).toBe(true);
  });

  it('names pitches with their octave', () => {
    expect(noteName(60)).toBe('C4');
    expect(noteName(61)).toBe('C♯4');
    expect(noteName(69)).toBe('A4');
    expect(noteName(59)).toBe('B3');
  });
});
