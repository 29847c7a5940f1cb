/** The song as sung: notes with lyrics, the phonemes under them, and the f0 curve over the notes. */
import { memo } from 'react';
import type { Display } from '../api/types';
import { barMarks, f0Segments, lyricLanes, noteName, pitchToY, rulerTicks, timeToX, type RollLayout } from '../lib/roll';

interface Props {
  display: Display;
  layout: RollLayout;
}

function Rows({ l }: { l: RollLayout }) {
  const rows = [];
  for (let p = l.lowPitch; p <= l.highPitch; p++) {
    const black = [1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12);
    rows.push(<rect key={p} className={black ? 'row-black' : 'row-white'} x={0} y={pitchToY(l, p)} width={l.width} height={l.rowHeight} />);
    if (p % 12 === 0) {
      rows.push(
        <text key={`c${p}`} className="pitch-label" x={2} y={pitchToY(l, p) + l.rowHeight - 1}>
          {noteName(p)}
        </text>,
      );
    }
  }
  return <g aria-hidden="true">{rows}</g>;
}

/** Time along the top: m:ss labels, spaced for the zoom. */
function Ruler({ l }: { l: RollLayout }) {
  return (
    <g className="ruler" aria-hidden="true">
      <rect className="ruler-band" x={0} y={0} width={l.width} height={l.rulerHeight} />
      {rulerTicks(l).map((t) => (
        <g key={t.x}>
          <line x1={t.x} x2={t.x} y1={l.rulerHeight - 5} y2={l.height} className="tick" />
          <text x={t.x + 3} y={l.rulerHeight - 6}>
            {t.label}
          </text>
        </g>
      ))}
    </g>
  );
}

/** Bars under the time ruler: numbers at the bar lines (thinned when zoomed out), faint lines across the grid. */
function BarRuler({ display, l }: { display: Display; l: RollLayout }) {
  if (!l.barRulerHeight) return null; // display data from before bars were recorded
  const y0 = l.rulerHeight;
  const gridBottom = l.height - 2 * l.laneHeight;
  return (
    <g className="bar-ruler" aria-hidden="true">
      <rect className="bar-band" x={0} y={y0} width={l.width} height={l.barRulerHeight} />
      {barMarks(display.bars, l.pxPerSecond).map((b, i) => (
        <g key={i}>
          <line x1={b.x} x2={b.x} y1={y0} y2={gridBottom} className="bar-line" />
          {b.label !== null && (
            <text x={b.x + 3} y={y0 + l.barRulerHeight - 4}>
              {b.label}
            </text>
          )}
        </g>
      ))}
    </g>
  );
}

function Notes({ display, l }: { display: Display; l: RollLayout }) {
  // Each lyric in its own lane under the ruler, stacked where syllables come fast.
  const lanes = lyricLanes(display.notes, l.pxPerSecond);
  const laneStep = l.laneHeight * 0.75;
  return (
    <g className="notes">
      {display.notes.map((n, i) => {
        const x = timeToX(l, n.onset);
        const y = pitchToY(l, n.pitch);
        return (
          <g key={i}>
            <rect className="note" data-note={i} x={x} y={y} width={Math.max(1, timeToX(l, n.duration) - 1)} height={l.rowHeight} rx={2}>
              <title>{`${noteName(n.pitch)}${n.lyric ? ` “${n.lyric}”` : ''} at ${n.onset.toFixed(2)} s`}</title>
            </rect>
            {n.lyric && (
              <text className="lyric" x={x + 1} y={l.rulerHeight + l.barRulerHeight + ((lanes[i] ?? 0) + 1) * laneStep - 3}>
                {n.lyric}
              </text>
            )}
          </g>
        );
      })}
    </g>
  );
}

function Phonemes({ display, l }: { display: Display; l: RollLayout }) {
  const top = l.height - 2 * l.laneHeight;
  return (
    <g className="phonemes" aria-hidden="true">
      <rect className="lane" x={0} y={top} width={l.width} height={2 * l.laneHeight} />
      {display.phonemes.map((p, i) => {
        const x = timeToX(l, p.start);
        const silent = p.phoneme === 'SP' || p.phoneme === 'AP';
        return (
          <g key={i} className={silent ? 'silent' : undefined}>
            <line x1={x} x2={x} y1={top} y2={l.height} />
            <text x={x + 2} y={top + l.laneHeight * (i % 2 === 0 ? 0.7 : 1.7)}>
              {p.phoneme}
            </text>
          </g>
        );
      })}
    </g>
  );
}

/** Memoised: it redraws only when the song changes, never on playback ticks. */
export const PianoRoll = memo(function PianoRoll({ display, layout: l }: Props) {
  return (
    <svg
      className="roll"
      width={l.width}
      height={l.height}
      viewBox={`0 0 ${l.width} ${l.height}`}
      role="img"
      aria-label={`Piano roll: ${display.notes.length} notes, ${display.phonemes.length} phonemes, and the sung pitch curve`}
      data-note-count={display.notes.length}
    >
      <Rows l={l} />
      <Ruler l={l} />
      <BarRuler display={display} l={l} />
      <Notes display={display} l={l} />
      <g className="f0" aria-hidden="true">
        {f0Segments(l, display.f0).map((points, i) => (
          <polyline key={i} points={points} />
        ))}
      </g>
      <Phonemes display={display} l={l} />
    </svg>
  );
});
