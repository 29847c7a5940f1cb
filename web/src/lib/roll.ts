/** Piano-roll geometry: seconds to x, MIDI pitch (and f0 in Hz) to y. Pure, so it is unit-tested. */
import type { Display } from '../api/types';

/** Sizes of the drawing, in SVG user units. */
export interface RollLayout {
  width: number;
  height: number;
  pxPerSecond: number;
  rowHeight: number;
  lowPitch: number;
  highPitch: number;
  /** Height of the lyric and phoneme lanes under the notes. */
  laneHeight: number;
  /** Height of the time ruler at the top. */
  rulerHeight: number;
  /** Height of the bar ruler under the time ruler (0 when the display data has no bars). */
  barRulerHeight: number;
  /** Lyric lanes between the ruler and the notes (enough that no two lyrics overlap). */
  lyricLanes: number;
  /** y where the pitch rows begin (under the rulers and the lyric lanes). */
  top: number;
}

export const PX_PER_SECOND = 90;
export const ROW_HEIGHT = 9;
export const LANE_HEIGHT = 18;
export const RULER_HEIGHT = 18;
export const BAR_RULER_HEIGHT = 14;
/** Bar numbers closer than this at the zoom are thinned to every 2nd, 4th, 8th, ... bar. */
export const BAR_LABEL_MIN_PX = 40;
/** Wider than a three-digit bar number: an odd short bar (a pickup, a tempo change) never overlaps its neighbour. */
const BAR_LABEL_CLEAR_PX = 20;
/** Zoom steps of the piano roll, in pixels per second. */
export const ZOOMS = [20, 35, 60, 90, 140, 220, 350] as const;
/** Roughly how wide a lyric's text is drawn (10 px sans-serif), to keep lyrics from overlapping. */
const LYRIC_CHAR_PX = 7;
const LYRIC_GAP_PX = 6;

/**
 * A lane for each note's lyric (-1 for none): the first lane where it does not overlap the lyric
 * before it, so fast syllables stack instead of running into each other.
 */
export function lyricLanes(notes: Display['notes'], pxPerSecond: number): number[] {
  const ends: number[] = [];
  return notes.map((n) => {
    if (!n.lyric) return -1;
    const start = n.onset * pxPerSecond;
    const end = start + n.lyric.length * LYRIC_CHAR_PX + LYRIC_GAP_PX;
    let lane = ends.findIndex((e) => e <= start);
    if (lane < 0) lane = ends.length;
    ends[lane] = end;
    return lane;
  });
}

/** Where the ruler's ticks go: a step that leaves ~70 px between labels, and their labels (m:ss). */
export function rulerTicks(l: Pick<RollLayout, 'width' | 'pxPerSecond'>): { x: number; label: string }[] {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120];
  const step = steps.find((s) => s * l.pxPerSecond >= 70) ?? 300;
  const ticks: { x: number; label: string }[] = [];
  for (let t = 0; t * l.pxPerSecond <= l.width; t += step) {
    const whole = Math.floor(t);
    const label = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}${t % 1 ? '.5' : ''}`;
    ticks.push({ x: t * l.pxPerSecond, label });
  }
  return ticks;
}

type Bars = NonNullable<Display['bars']>;

/**
 * Every how many bars a number is printed: 1, 2, 4, 8, ... so that numbers of bars of the typical
 * (median) length stand at least BAR_LABEL_MIN_PX apart at this zoom.
 */
export function barLabelStep(bars: Bars, pxPerSecond: number): number {
  const gaps = bars
    .slice(1)
    .map((b, i) => b.start - (bars[i]?.start ?? 0))
    .filter((g) => g > 0)
    .sort((a, b) => a - b);
  const typical = (gaps[Math.floor(gaps.length / 2)] ?? Infinity) * pxPerSecond;
  let step = 1;
  while (step < 1024 && step * typical < BAR_LABEL_MIN_PX) step *= 2;
  return step;
}

/**
 * Each bar line's x and the number printed at it (null where thinned out). With a step over 1, bars
 * numbered 1, 1 + step, 1 + 2 step, ... are labelled, as a score numbers its systems; a number that is
 * not a positive integer ("12a", a pickup's "0") is printed only when every bar is.
 */
export function barMarks(bars: Display['bars'], pxPerSecond: number): { x: number; label: string | null }[] {
  const list = bars ?? [];
  const step = barLabelStep(list, pxPerSecond);
  let lastX = -Infinity;
  return list.map((b) => {
    const x = b.start * pxPerSecond;
    const text = String(b.number).trim();
    const n = /^\d+$/.test(text) ? Number(text) : null;
    const due = step === 1 || (n !== null && n >= 1 && (n - 1) % step === 0);
    const label = due && text !== '' && x - lastX >= BAR_LABEL_CLEAR_PX ? text : null;
    if (label !== null) lastX = x;
    return { x, label };
  });
}

/** Time of the first sung note (0 without notes): the roll opens there, not on an empty grid. */
export function firstNoteTime(display: Display): number {
  return display.notes.length ? Math.min(...display.notes.map((n) => n.onset)) : 0;
}

/** Hz to fractional MIDI pitch (A4 = 440 Hz = 69). */
export function hzToMidi(hz: number): number {
  return 69 + 12 * Math.log2(hz / 440);
}

/** A layout that fits every note and every voiced f0 point, with two semitones of margin. */
export function layout(display: Display, pxPerSecond = PX_PER_SECOND): RollLayout {
  const pitches = display.notes.map((n) => n.pitch);
  for (const [, hz] of display.f0) if (hz > 0) pitches.push(hzToMidi(hz));
  const low = pitches.length ? Math.floor(Math.min(...pitches)) - 2 : 58;
  const high = pitches.length ? Math.ceil(Math.max(...pitches)) + 2 : 74;
  const rows = high - low + 1;
  const lanes = Math.max(1, ...lyricLanes(display.notes, pxPerSecond).map((lane) => lane + 1));
  const barRuler = display.bars?.length ? BAR_RULER_HEIGHT : 0;
  const top = RULER_HEIGHT + barRuler + lanes * LANE_HEIGHT * 0.75;
  return {
    width: Math.max(1, Math.ceil(display.duration * pxPerSecond)),
    height: top + rows * ROW_HEIGHT + 2 * LANE_HEIGHT,
    pxPerSecond,
    rowHeight: ROW_HEIGHT,
    lowPitch: low,
    highPitch: high,
    laneHeight: LANE_HEIGHT,
    rulerHeight: RULER_HEIGHT,
    barRulerHeight: barRuler,
    lyricLanes: lanes,
    top,
  };
}

/** x of a time in seconds. */
export function timeToX(l: RollLayout, seconds: number): number {
  return seconds * l.pxPerSecond;
}

/** Seconds at an x (inverse of timeToX), clamped to the song. */
export function xToTime(l: RollLayout, x: number): number {
  return Math.min(Math.max(x / l.pxPerSecond, 0), l.width / l.pxPerSecond);
}

/** y of the top of a pitch's row (higher pitches higher up). */
export function pitchToY(l: RollLayout, pitch: number): number {
  return l.top + (l.highPitch - pitch) * l.rowHeight;
}

/** The SVG polyline points of the voiced f0 curve, split where the voice is silent (f0 = 0). */
export function f0Segments(l: RollLayout, f0: Display['f0']): string[] {
  const segments: string[] = [];
  let current: string[] = [];
  for (const [t, hz] of f0) {
    if (hz > 0) {
      // Through the middle of the row, where the note's rectangle is centred.
      const y = pitchToY(l, hzToMidi(hz)) + l.rowHeight / 2;
      current.push(`${timeToX(l, t).toFixed(1)},${y.toFixed(1)}`);
    } else if (current.length) {
      segments.push(current.join(' '));
      current = [];
    }
  }
  if (current.length) segments.push(current.join(' '));
  return segments.filter((s) => s.includes(' '));
}

/** Note names for the pitch axis: 60 -> "C4". */
export function noteName(pitch: number): string {
  const names = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
  return `${names[((pitch % 12) + 12) % 12]}${Math.floor(pitch / 12) - 1}`;
}
