/** The rendered audio's waveform, on the same time axis as the piano roll. */
import { memo } from 'react';

interface Props {
  peaks: [number, number][];
  width: number;
  height: number;
}

/** One vertical stroke per bucket, from its minimum to its maximum. */
export function waveformPath(peaks: [number, number][], width: number, height: number): string {
  const step = width / Math.max(1, peaks.length);
  const mid = height / 2;
  return peaks
    .map(([lo, hi], i) => {
      const x = (i + 0.5) * step;
      // At least half a unit tall so silence still draws a visible centre line.
      return `M${x.toFixed(1)} ${(mid - Math.max(hi * mid, 0.5)).toFixed(1)}V${(mid - Math.min(lo * mid, -0.5)).toFixed(1)}`;
    })
    .join('');
}

export const Waveform = memo(function Waveform({ peaks, width, height }: Props) {
  return (
    <svg className="waveform" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Waveform of the sung audio">
      <path d={waveformPath(peaks, width, height)} />
    </svg>
  );
});
