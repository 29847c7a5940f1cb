import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { PianoRoll } from '../src/components/PianoRoll';
import type { Display } from '../src/api/types';
import { BAR_LABEL_MIN_PX, barLabelStep, barMarks, f0Segments, hzToMidi, layout, noteName, pitchToY, timeToX, xToTime } from '../src/lib/roll';

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

/** Bars of `seconds` each, numbered from `first`. */
function everyBar(count: number, seconds: number, first = 1): { start: number; number: string }[] {
  return Array.from({ length: count }, (_, i) => ({ start: i * seconds, number: String(first + i) }));
}

describe('bar ruler', () => {
  it('labels every bar while bars stand 40 px apart, then every 2nd, 4th, 8th', () => {
    const bars = everyBar(32, 1); // 2/4 at 120 bpm
    expect(barLabelStep(bars, 90)).toBe(1);
    expect(barLabelStep(bars, 40)).toBe(1); // exactly 40 px
    expect(barLabelStep(bars, 35)).toBe(2);
    expect(barLabelStep(bars, 20)).toBe(2);
    expect(barLabelStep(bars, 10)).toBe(4);
    expect(barLabelStep(bars, 5)).toBe(8);
    for (const px of [5, 10, 20, 35, 60, 90]) {
      const xs = barMarks(bars, px).flatMap((b) => (b.label === null ? [] : [b.x]));
      const gaps = xs.slice(1).map((x, i) => x - (xs[i] ?? 0));
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(BAR_LABEL_MIN_PX);
    }
  });

  it('keeps every bar line and numbers 1, 1 + step, 1 + 2 step as a score does', () => {
    const marks = barMarks(everyBar(9, 1), 10); // 10 px apart: every 4th bar
    expect(marks).toHaveLength(9);
    expect(marks.map((m) => m.x)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80]);
    expect(marks.map((m) => m.label)).toEqual(['1', null, null, null, '5', null, null, null, '9']);
  });

  it('numbers a pickup bar only when every bar is numbered, and never lets an odd short bar overlap', () => {
    const pickup = [{ start: 0, number: 0 }, ...everyBar(4, 2).map((b) => ({ ...b, start: b.start + 0.5 }))];
    expect(barMarks(pickup, 90).map((m) => m.label)).toEqual(['0', '1', '2', '3', '4']);
    expect(barMarks(pickup, 15).map((m) => m.label)).toEqual([null, '1', null, '3', null]);
    // At 30 px/s the 0.5 s pickup is 15 px wide: bar 1's number would collide with it.
    expect(barMarks(pickup, 30).map((m) => m.label)).toEqual(['0', null, '2', '3', '4']);
  });

  it('draws no bar ruler for display data that has no bars', () => {
    expect(barMarks(undefined, 90)).toEqual([]);
    expect(layout(display, 90).barRulerHeight).toBe(0);
    const withBars = layout({ ...display, bars: everyBar(1, 2) }, 90);
    expect(withBars.barRulerHeight).toBeGreaterThan(0);
    expect(withBars.top).toBe(layout(display, 90).top + withBars.barRulerHeight);
  });

  it('draws the bar ruler as decoration: hidden from screen readers, the roll’s name unchanged', () => {
    const withBars = { ...display, bars: everyBar(2, 1) };
    const html = renderToStaticMarkup(createElement(PianoRoll, { display: withBars, layout: layout(withBars, 90) }));
    expect(html).toContain('<g class="bar-ruler" aria-hidden="true">');
    expect(html.match(/class="bar-line"/g)).toHaveLength(2);
    expect(html).toMatch(/>1<\/text>.*>2<\/text>/);
    expect(html).toContain('aria-label="Piano roll: 2 notes, 0 phonemes, and the sung pitch curve"');
    const plain = renderToStaticMarkup(createElement(PianoRoll, { display, layout: layout(display, 90) }));
    expect(plain).not.toContain('bar-ruler');
  });
});
