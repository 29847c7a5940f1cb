import { describe, expect, it } from 'vitest';
import { parseWav, peaks, WavError } from '../src/lib/wav';

/** A RIFF/WAVE file written by hand from the format's definition, with optional extra chunks. */
function wav(samples: number[], opts: { rate?: number; format?: number; bits?: number; extra?: Uint8Array } = {}): ArrayBuffer {
  const rate = opts.rate ?? 8000;
  const bits = opts.bits ?? 16;
  const extra = opts.extra ?? new Uint8Array(0);
  const data = samples.length * 2;
  const buf = new ArrayBuffer(12 + 24 + extra.length + 8 + data);
  const v = new DataView(buf);
  const ascii = (o: number, s: string) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  ascii(0, 'RIFF');
  v.setUint32(4, buf.byteLength - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, opts.format ?? 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, bits, true);
  new Uint8Array(buf).set(extra, 36);
  const d = 36 + extra.length;
  ascii(d, 'data');
  v.setUint32(d + 4, data, true);
  samples.forEach((s, i) => v.setInt16(d + 8 + i * 2, s, true));
  return buf;
}

/** A LIST chunk of odd size 3, padded to 4 bytes as RIFF requires. */
function oddChunk(): Uint8Array {
  return new Uint8Array([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]);
}

describe('parseWav', () => {
  it('reads rate, channels and the duration from the data size', () => {
    const info = parseWav(wav(new Array(12000).fill(0), { rate: 8000 }));
    expect(info).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, dataBytes: 24000 });
    expect(info.duration).toBeCloseTo(1.5, 6);
  });

  it('skips unknown chunks, honouring the even-length padding', () => {
    const info = parseWav(wav([1, 2, 3, 4], { extra: oddChunk() }));
    expect(info.dataOffset).toBe(12 + 24 + 12 + 8);
    expect(info.dataBytes).toBe(8);
  });

  it('refuses what it cannot read, saying why', () => {
    expect(() => parseWav(new TextEncoder().encode('<score-partwise/>').buffer as ArrayBuffer)).toThrow(/RIFF\/WAVE/);
    expect(() => parseWav(wav([0], { format: 3 }))).toThrow(/not PCM/);
    expect(() => parseWav(wav([0], { bits: 24 }))).toThrow(WavError);
  });
});

describe('peaks', () => {
  it('gives the min and max of each bucket in -1..1', () => {
    const buf = wav([0, 16384, -32768, 0, 8192, -8192]);
    const out = peaks(buf, parseWav(buf), 2);
    expect(out).toEqual([
      [-1, 0.5],
      [-0.25, 0.25],
    ]);
  });
});
