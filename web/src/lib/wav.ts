/** Just enough of RIFF/WAVE to draw a waveform: the format, the duration and min/max peaks. */

/** Raised when bytes are not a PCM WAV file this module can read. */
export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavError';
  }
}

/** A PCM WAV file's format and where its samples are. */
export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  dataOffset: number;
  dataBytes: number;
  /** Seconds of audio. */
  duration: number;
}

function tag(view: DataView, offset: number): string {
  return String.fromCharCode(...[0, 1, 2, 3].map((i) => view.getUint8(offset + i)));
}

/** Reads the RIFF header and chunks; WavError names what is wrong. */
export function parseWav(buffer: ArrayBuffer): WavInfo {
  const view = new DataView(buffer);
  if (buffer.byteLength < 12 || tag(view, 0) !== 'RIFF' || tag(view, 8) !== 'WAVE') {
    throw new WavError('not a WAV file (no RIFF/WAVE header)');
  }
  let offset = 12;
  let format: Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'duration'> | null = null;
  while (offset + 8 <= buffer.byteLength) {
    const id = tag(view, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      const audioFormat = view.getUint16(body, true);
      if (audioFormat !== 1) throw new WavError(`WAV format ${audioFormat} is not PCM`);
      format = {
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new WavError('WAV data chunk before its fmt chunk');
      if (format.bitsPerSample !== 16) throw new WavError(`${format.bitsPerSample}-bit WAV is not supported`);
      const dataBytes = Math.min(size, buffer.byteLength - body);
      const frameBytes = format.channels * 2;
      return { ...format, dataOffset: body, dataBytes, duration: dataBytes / frameBytes / format.sampleRate };
    }
    offset = body + size + (size % 2); // chunks are padded to an even length
  }
  throw new WavError('WAV file without a data chunk');
}

/** `buckets` [min, max] pairs in -1..1 over the first channel, for a waveform drawing. */
export function peaks(buffer: ArrayBuffer, info: WavInfo, buckets: number): [number, number][] {
  const view = new DataView(buffer, info.dataOffset, info.dataBytes);
  const frames = Math.floor(info.dataBytes / (info.channels * 2));
  const out: [number, number][] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * frames) / buckets);
    const end = Math.max(start + 1, Math.floor(((b + 1) * frames) / buckets));
    let lo = 0;
    let hi = 0;
    for (let f = start; f < end && f < frames; f++) {
      const v = view.getInt16(f * info.channels * 2, true) / 32768;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out.push([lo, hi]);
  }
  return out;
}
