/**
 * Stitching a song from its finished phrases exactly as the server assembles the final WAV
 * (singer_tasks/render/assembly.py `place`): the phrases in index order, each at its first sample
 * `round(offsetSeconds * sampleRate)`; where a phrase overlaps what is already there, a linear
 * cross-fade over the overlap (old * (1 - fade) + new * fade, fade = 0..1 inclusive), after which the
 * new phrase replaces. Float32 arithmetic as numpy's. From the 16-bit phrase WAVs this gives the
 * final WAV's samples exactly outside cross-fades and within one 16-bit step inside them.
 *
 * A later phrase only writes from its own start on, so with every phrase up to k placed the song is
 * final up to phrase k + 1's start (`nextOffsetSeconds` of phrase k): `Stitcher.take()` hands out
 * those final stretches, in order, for the player to schedule.
 */
import { parseWav } from './wav';

/** One phrase's samples and where it sits on the timeline (in samples). */
export interface Piece {
  index: number;
  start: number;
  samples: Float32Array;
  /** The next phrase's start, null for the last phrase. */
  next: number | null;
}

/** A stretch of final samples starting at `start` (samples on the song's timeline). */
export interface Chunk {
  start: number;
  samples: Float32Array;
}

/** A 16-bit mono WAV's samples as the server's values (pcm / 32767) and its rate. */
export function decodePcm16(buffer: ArrayBuffer): { samples: Float32Array; sampleRate: number } {
  const info = parseWav(buffer);
  const view = new DataView(buffer, info.dataOffset, info.dataBytes);
  const frames = Math.floor(info.dataBytes / (2 * info.channels));
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) samples[i] = view.getInt16(i * 2 * info.channels, true) / 32767;
  return { samples, sampleRate: info.sampleRate };
}

/** The first sample of a phrase at `offsetSeconds` (the API gives a whole number of samples / rate). */
export function startSample(offsetSeconds: number, sampleRate: number): number {
  return Math.max(0, Math.round(offsetSeconds * sampleRate));
}

/** numpy's float32 linspace(0, 1, n)[i]. */
function fadeAt(i: number, n: number): number {
  if (n <= 1) return 0;
  return i === n - 1 ? 1 : Math.fround(i * (1 / (n - 1)));
}

/** Adds `piece` at `start` into song[0:length] as assembly.place does; returns the (maybe grown) song and length. */
export function place(song: Float32Array, length: number, piece: Float32Array, start: number): [Float32Array, number] {
  const end = start + piece.length;
  let out = song;
  if (end > out.length) {
    out = new Float32Array(Math.max(end, out.length * 2));
    out.set(song);
  }
  const overlap = Math.max(0, Math.min(length, end) - start);
  for (let i = 0; i < overlap; i++) {
    const fade = Math.fround(fadeAt(i, overlap));
    const old = Math.fround(out[start + i]! * Math.fround(1 - fade));
    out[start + i] = Math.fround(old + Math.fround(piece[i]! * fade));
  }
  out.set(piece.subarray(overlap), start + overlap);
  return [out, Math.max(length, end)];
}

/** Quantises like encode_wav: clip to [-1, 1], times 32767, rounded half to even. */
export function toPcm16(value: number): number {
  const x = Math.min(1, Math.max(-1, value)) * 32767;
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Places phrases as they arrive (in index order) and hands out the stretches that are final. */
export class Stitcher {
  private pieces = new Map<number, Piece>();
  private song: Float32Array = new Float32Array(0);
  private length = 0;
  private placed = 0;
  private taken = 0;

  constructor(public total: number) {}

  /** Phrases placed so far (a prefix: 0 .. placed - 1). */
  get placedCount(): number {
    return this.placed;
  }

  /** Whether the phrase is here (placed or waiting for an earlier one). */
  has(index: number): boolean {
    return this.pieces.has(index);
  }

  /** Samples final so far: up to the next unplaced phrase's start, or the whole song once all are placed. */
  get finalUpTo(): number {
    if (this.placed === 0) return 0;
    if (this.total > 0 && this.placed >= this.total) return this.length;
    const last = this.pieces.get(this.placed - 1)!;
    return last.next === null ? this.length : Math.min(last.next, this.length);
  }

  /** Whether every phrase is placed and handed out. */
  get complete(): boolean {
    return this.total > 0 && this.placed >= this.total && this.taken >= this.length;
  }

  add(piece: Piece): void {
    if (this.pieces.has(piece.index)) return;
    this.pieces.set(piece.index, piece);
    for (let next = this.pieces.get(this.placed); next; next = this.pieces.get(this.placed)) {
      [this.song, this.length] = place(this.song, this.length, next.samples, next.start);
      this.placed += 1;
    }
  }

  /** The final samples not handed out yet (null when there are none). */
  take(): Chunk | null {
    const upTo = this.finalUpTo;
    if (upTo <= this.taken) return null;
    const chunk = { start: this.taken, samples: this.song.slice(this.taken, upTo) };
    this.taken = upTo;
    return chunk;
  }

  /** Hand everything out again from the start (a replay). */
  rewind(): void {
    this.taken = 0;
  }

  /** The song stitched so far (song[0:length]). */
  samples(): Float32Array {
    return this.song.slice(0, this.length);
  }
}
