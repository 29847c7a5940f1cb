/** Stitching phrases as the server assembles them (singer_tasks/render/assembly.py `place`). */
import { describe, expect, it } from 'vitest';
import { decodePcm16, place, startSample, Stitcher, toPcm16 } from '../src/lib/stitch';

const f32 = (values: number[]) => new Float32Array(values);

// numpy's output for the same three pieces (assembly.place, float32), printed by the Python side.
const NUMPY = [
  0.0, 0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896, 0.4000000059604645, 0.5,
  0.20000001788139343, -0.10000000149011612, 0.05000000074505806, 0.15000000596046448, 0.0, 0.0, 0.0,
  0.8999999761581421, 0.800000011920929,
];
const A = f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
const B = f32([-0.3, -0.2, -0.1, 0.05, 0.15]);
const C = f32([0.9, 0.8]);

function wav(pcm: number[], rate: number): ArrayBuffer {
  const buffer = new ArrayBuffer(44 + pcm.length * 2);
  const view = new DataView(buffer);
  const text = (at: number, s: string) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + pcm.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, pcm.length * 2, true);
  pcm.forEach((v, i) => view.setInt16(44 + i * 2, v, true));
  return buffer;
}

describe('place', () => {
  it('cross-fades overlaps and replaces after them, as numpy does', () => {
    let song: Float32Array = new Float32Array(0);
    let length = 0;
    [song, length] = place(song, length, A, 2);
    [song, length] = place(song, length, B, 6); // overlaps A's last three samples
    [song, length] = place(song, length, C, 14); // after a gap
    expect(length).toBe(16);
    expect(Array.from(song.slice(0, length))).toEqual(NUMPY);
  });
});

describe('Stitcher', () => {
  it('hands out only what later phrases cannot change, in order, whatever order phrases arrive in', () => {
    const s = new Stitcher(3);
    s.add({ index: 1, start: 6, samples: B, next: 14 });
    expect(s.finalUpTo).toBe(0); // phrase 0 is missing: nothing is final
    expect(s.take()).toBeNull();
    s.add({ index: 0, start: 2, samples: A, next: 6 });
    // Phrases 0 and 1 placed: final up to phrase 2's start (known from phrase 1's `next`).
    expect(s.placedCount).toBe(2);
    const first = s.take()!;
    expect(first.start).toBe(0);
    expect(Array.from(first.samples)).toEqual(NUMPY.slice(0, 11));
    expect(s.take()).toBeNull();
    s.add({ index: 2, start: 14, samples: C, next: null });
    const rest = s.take()!;
    expect(rest.start).toBe(11);
    expect(Array.from(rest.samples)).toEqual(NUMPY.slice(11));
    expect(s.complete).toBe(true);
    s.rewind();
    expect(s.take()!.samples.length).toBe(16);
  });

  it('keeps the end of a phrase back until the next one is known to start after it', () => {
    const s = new Stitcher(2);
    s.add({ index: 0, start: 2, samples: A, next: 6 });
    expect(s.finalUpTo).toBe(6); // samples 6..8 wait for phrase 1's cross-fade
  });
});

describe('16-bit samples', () => {
  it('decodes a WAV to the values the server mixes, and quantises back like encode_wav', () => {
    const { samples, sampleRate } = decodePcm16(wav([0, 32767, -32767, 16384], 44100));
    expect(sampleRate).toBe(44100);
    expect(Array.from(samples)).toEqual([0, 1, -1, Math.fround(16384 / 32767)]);
    expect(Array.from(samples, toPcm16)).toEqual([0, 32767, -32767, 16384]);
    expect(toPcm16(2)).toBe(32767);
    expect(toPcm16(0.5 / 32767)).toBe(0); // half to even, as numpy rounds
    expect(toPcm16(1.5 / 32767)).toBe(2);
    expect(startSample(12345 / 44100, 44100)).toBe(12345);
  });
});
