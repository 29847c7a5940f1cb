import { describe, expect, it } from 'vitest';
import { medianPitch, medianShift } from '../e2e/pitch';

/** A second of a sung-like tone: a fundamental and strong harmonics. */
function tone(hz: number, rate = 44_100): Int16Array {
  // (rate samples: one second)
  const out = new Int16Array(rate);
  for (let i = 0; i < rate; i++) {
    const t = i / rate;
    const v = 0.5 * Math.sin(2 * Math.PI * hz * t) + 0.4 * Math.sin(4 * Math.PI * hz * t) + 0.3 * Math.sin(6 * Math.PI * hz * t);
    out[i] = Math.round(v * 12_000);
  }
  return out;
}

describe('medianPitch (the e2e key-shift check)', () => {
  it('finds the fundamental of a harmonic tone, not a multiple of its period', () => {
    expect(medianPitch(tone(220), 44_100)).toBeCloseTo(220, -0.5);
    expect(medianPitch(tone(110), 44_100)).toBeCloseTo(110, -0.3);
  });

  it('measures five semitones between a tone and the same tone shifted', () => {
    const semitones = 12 * Math.log2(medianPitch(tone(220 * 2 ** (5 / 12)), 44_100) / medianPitch(tone(220), 44_100));
    expect(Math.abs(semitones - 5)).toBeLessThan(0.2);
  });

  it('measures the interval frame by frame between two renders of the same timing', () => {
    // A melody: half a second at 196 Hz, then at 261.6 Hz; the shifted one seven semitones higher.
    const melody = (shift: number, rate: number) => {
      const a = tone(196 * 2 ** (shift / 12), rate).subarray(0, rate / 2);
      const b = tone(261.6 * 2 ** (shift / 12), rate).subarray(0, rate / 2);
      const out = new Int16Array(rate);
      out.set(a, 0);
      out.set(b, rate / 2);
      return out;
    };
    expect(medianShift(melody(0, 24_000), 24_000, melody(7, 24_000), 24_000)).toBeCloseTo(7, 1);
  });

  it('has no pitch for silence', () => {
    expect(medianPitch(new Int16Array(44_100), 44_100)).toBeNaN();
  });
});
