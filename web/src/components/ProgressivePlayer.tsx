/**
 * Listen while it renders: plays a job's finished phrases at their offsets as they arrive
 * (hooks/useProgressivePlayback.ts), and draws the piano roll with the ready phrases marked.
 * Shown while the job renders; a playback in progress continues after the job completes.
 */
import { useEffect, useMemo, useRef } from 'react';
import type { ApiClient } from '../api/client';
import type { Job } from '../api/types';
import { useProgressivePlayback, type PlaybackState } from '../hooks/useProgressivePlayback';
import { isRendering } from '../lib/jobs';
import { layout, timeToX, type RollLayout } from '../lib/roll';
import { PianoRoll } from './PianoRoll';

const WORDS: Record<PlaybackState, string> = {
  idle: 'Listen to the phrases sung so far while the rest renders.',
  waiting: 'Playback starts as soon as the first phrases are sung…',
  playing: 'Playing what is sung so far.',
  buffering: 'Waiting for the next phrase…',
  ended: 'Played everything.',
  blocked: 'The browser held the audio back: press Play.',
};

/** Whether this page may start audio without a click now (the user has interacted with it). */
function mayAutoplay(): boolean {
  if (typeof navigator === 'undefined') return false;
  const activation = (navigator as Navigator & { userActivation?: { hasBeenActive: boolean } }).userActivation;
  return activation ? activation.hasBeenActive : false;
}

export function ProgressivePlayer({ client, job }: { client: ApiClient; job: Job }) {
  const autoplay = useMemo(() => mayAutoplay(), []);
  const playback = useProgressivePlayback(client, job, autoplay);
  const { state, total, ready, spans, display } = playback;
  const rendering = isRendering(job.status);
  const sounding = state === 'playing' || state === 'buffering' || state === 'waiting';
  if (!rendering && !sounding) return null;
  const running = state !== 'idle' && state !== 'ended' && state !== 'blocked';

  return (
    <div className="progressive" data-testid="progressive" data-state={state} data-ready={ready.length} data-total={total}>
      <div className="player">
        <button type="button" className="button" onClick={running ? playback.stop : playback.play}>
          {running ? 'Stop' : 'Play while it renders'}
        </button>
        <p className="muted" role="status">
          {WORDS[state]} {total > 0 ? `${ready.length} of ${total} phrases ready.` : ''}
        </p>
      </div>
      {/* Once the job completes, the result view draws the song (one piano roll on the page). */}
      {display && rendering && <ReadyRoll display={display} spans={spans} position={playback.position} active={sounding} />}
    </div>
  );
}

/** The piano roll with each ready phrase shaded, and a cursor at the playback position. */
function ReadyRoll({
  display,
  spans,
  position,
  active,
}: {
  display: NonNullable<ReturnType<typeof useProgressivePlayback>['display']>;
  spans: { index: number; start: number; end: number }[];
  position: () => number;
  active: boolean;
}) {
  const l = useMemo(() => layout(display), [display]);
  const cursor = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!active) return;
    let frame = 0;
    const tick = () => {
      if (cursor.current) cursor.current.style.transform = `translateX(${timeToX(l, position())}px)`;
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [active, l, position]);
  return (
    <div className="song">
      <div className="song-inner" style={{ width: l.width }}>
        <PianoRoll display={display} layout={l} />
        <PhraseOverlay layout={l} spans={spans} />
        <div className="cursor" ref={cursor} aria-hidden="true" />
      </div>
    </div>
  );
}

/** Shades the stretches of the roll whose phrases are ready to play. */
export function PhraseOverlay({ layout: l, spans }: { layout: RollLayout; spans: { index: number; start: number; end: number }[] }) {
  return (
    <svg
      className="phrase-overlay"
      width={l.width}
      height={l.height}
      style={{ position: 'absolute', left: 0, top: 0, pointerEvents: 'none' }}
      aria-label={`${spans.length} phrases ready to play`}
      role="img"
      data-ready-phrases={spans.length}
    >
      {spans.map((s) => (
        <rect
          key={s.index}
          className="phrase-ready"
          data-phrase={s.index}
          x={timeToX(l, s.start)}
          y={0}
          width={Math.max(1, timeToX(l, s.end) - timeToX(l, s.start))}
          height={l.height}
          fill="rgba(46, 160, 67, 0.12)"
          stroke="rgba(46, 160, 67, 0.5)"
        />
      ))}
    </svg>
  );
}
