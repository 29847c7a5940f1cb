/** The pitch of a song, measured from its samples (to check a key shift end to end). */

/** Seconds between analysed frames. */
const HOP_S = 0.02;

/**
 * Median f0 in Hz over the voiced frames of 16-bit PCM `samples` at `rate`, by normalised
 * autocorrelation: per frame the shortest lag whose peak comes within 10% of the best one (so a
 * multiple of the period, which correlates as well, is not taken for it). NaN without voiced frames.
 */
export function medianPitch(samples: Int16Array, rate: number, lowHz = 60, highHz = 1000): number {
  const found = pitchTrack(samples, rate, lowHz, highHz).filter((hz) => !Number.isNaN(hz));
  return median(found);
}

function median(values: number[]): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * The median interval in semitones from song `a` to song `b`, frame by frame where both are voiced:
 * the songs keep the same timing, so each frame compares the same note sung in both.
 */
export function medianShift(a: Int16Array, rateA: number, b: Int16Array, rateB: number): number {
  const ta = pitchTrack(a, rateA);
  const tb = pitchTrack(b, rateB);
  const steps: number[] = [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i] as number;
    const y = tb[i] as number;
    if (!Number.isNaN(x) && !Number.isNaN(y)) steps.push(12 * Math.log2(y / x));
  }
  return median(steps);
}

/** f0 in Hz per frame (NaN where unvoiced), frames every `HOP_S` seconds. */
export function pitchTrack(samples: Int16Array, rate: number, lowHz = 60, highHz = 1000): number[] {
  const frame = Math.round(rate * 0.04);
  const hop = Math.round(rate * HOP_S);
  const minLag = Math.floor(rate / highHz);
  const maxLag = Math.ceil(rate / lowHz);
  const found: number[] = [];
  const corr = new Float64Array(maxLag + 2);
  for (let start = 0; start + frame + maxLag + 1 < samples.length; start += hop) {
    let energy = 0;
    for (let i = 0; i < frame; i++) energy += (samples[start + i] as number) ** 2;
    found.push(Number.NaN);
    if (energy / frame < 1e5) continue; // silence or breath
    let best = 0;
    for (let lag = minLag; lag <= maxLag + 1; lag++) {
      let dot = 0;
      let e2 = 0;
      for (let i = 0; i < frame; i++) {
        const b = samples[start + i + lag] as number;
        dot += (samples[start + i] as number) * b;
        e2 += b * b;
      }
      corr[lag] = dot / Math.sqrt(energy * e2 + 1);
      best = Math.max(best, corr[lag] as number);
    }
    if (best < 0.7) continue; // not periodic enough to be sung
    for (let lag = minLag + 1; lag <= maxLag; lag++) {
      const c = corr[lag] as number;
      if (c >= 0.9 * best && c >= (corr[lag - 1] as number) && c >= (corr[lag + 1] as number)) {
        // Between samples: the parabola through the peak and its neighbours.
        const l = corr[lag - 1] as number;
        const r = corr[lag + 1] as number;
        const offset = (l - r) / (2 * (l - 2 * c + r) || 1);
        found[found.length - 1] = rate / (lag + Math.max(-0.5, Math.min(0.5, offset)));
        break;
      }
    }
  }
  return found;
}
