/** Piano roll and waveform on one scrolling time axis, with a cursor that follows playback. */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type RefObject } from 'react';
import type { Display } from '../api/types';
import { usePlayhead } from '../hooks/usePlayhead';
import { firstNoteTime, layout, noteName, PX_PER_SECOND, timeToX, xToTime, ZOOMS } from '../lib/roll';
import { PianoRoll } from './PianoRoll';
import { Waveform } from './Waveform';

interface Props {
  display: Display;
  peaks: [number, number][] | null;
  audioSeconds: number | null;
  audioRef: RefObject<HTMLAudioElement | null>;
}

const WAVE_HEIGHT = 64;
const SEEK_STEP_S = 2;

export function SongView({ display, peaks, audioSeconds, audioRef }: Props) {
  const [zoom, setZoom] = useState<number>(PX_PER_SECOND);
  // Unique per view: the progressive player and the finished song may both be on the page.
  const keysId = useId();
  const l = useMemo(() => layout(display, zoom), [display, zoom]);
  const scroller = useRef<HTMLDivElement>(null);
  const cursor = useRef<HTMLDivElement>(null);
  // Zooming keeps the playback position (or the left edge) where it was on screen.
  const zoomBy = (steps: number) => {
    const index = ZOOMS.findIndex((z) => z >= zoom);
    const next = ZOOMS[Math.min(Math.max((index < 0 ? ZOOMS.length - 1 : index) + steps, 0), ZOOMS.length - 1)] ?? zoom;
    const box = scroller.current;
    if (box && next !== zoom) {
      const leftTime = box.scrollLeft / zoom;
      requestAnimationFrame(() => (box.scrollLeft = leftTime * next));
    }
    setZoom(next);
  };

  // Moves the cursor without re-rendering React, and keeps it in view while the song plays.
  const onTime = useCallback(
    (seconds: number) => {
      const x = timeToX(l, seconds);
      const el = cursor.current;
      const box = scroller.current;
      if (el) {
        el.style.transform = `translateX(${x}px)`;
        el.dataset.time = seconds.toFixed(3);
      }
      if (box && (x < box.scrollLeft || x > box.scrollLeft + box.clientWidth * 0.8)) {
        box.scrollLeft = Math.max(0, x - box.clientWidth * 0.2);
      }
    },
    [l],
  );
  usePlayhead(audioRef, onTime);
  // After the playhead's first placement: the roll opens at the first sung note (a long intro would
  // otherwise show an empty grid).
  useEffect(() => {
    const box = scroller.current;
    if (box) box.scrollLeft = Math.max(0, timeToX(layout(display), firstNoteTime(display)) - 24);
  }, [display]);

  const seek = (seconds: number) => {
    const audio = audioRef.current;
    if (audio) audio.currentTime = Math.min(Math.max(seconds, 0), audio.duration || display.duration);
  };
  const click = (event: MouseEvent<HTMLDivElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    seek(xToTime(l, event.clientX - rect.left));
  };
  const key = (event: KeyboardEvent) => {
    const audio = audioRef.current;
    if (!audio) return;
    const actions: Record<string, () => void> = {
      ArrowLeft: () => seek(audio.currentTime - SEEK_STEP_S),
      ArrowRight: () => seek(audio.currentTime + SEEK_STEP_S),
      Home: () => seek(0),
      End: () => seek(audio.duration || display.duration),
      '+': () => zoomBy(1),
      '=': () => zoomBy(1),
      '-': () => zoomBy(-1),
      ' ': () => void (audio.paused ? audio.play() : audio.pause()),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };

  return (
    <div className="song-view">
      <div className="song-tools">
        <p className="shortcuts" id={keysId}>
          Keys on the song: <kbd>Space</kbd> play/pause · <kbd>←</kbd> <kbd>→</kbd> 2 s · <kbd>Home</kbd> start ·{' '}
          <kbd>+</kbd> <kbd>−</kbd> zoom
        </p>
        <div className="row zoom" role="group" aria-label="Zoom">
          <button type="button" className="secondary" onClick={() => zoomBy(-1)} disabled={zoom <= ZOOMS[0]} aria-label="Zoom out">
            −
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => zoomBy(1)}
            disabled={zoom >= ZOOMS[ZOOMS.length - 1]!}
            aria-label="Zoom in"
          >
            +
          </button>
        </div>
      </div>
      <div
        className="song"
        ref={scroller}
        tabIndex={0}
        role="group"
        aria-label="The song. Left and right arrows move the playback position, space plays or pauses, plus and minus zoom, a click seeks."
        aria-describedby={keysId}
        data-zoom={zoom}
        onKeyDown={key}
      >
        <div className="song-inner" style={{ width: l.width }} onClick={click}>
          <PianoRoll display={display} layout={l} />
          {peaks && <Waveform peaks={peaks} width={Math.round(timeToX(l, audioSeconds ?? display.duration))} height={WAVE_HEIGHT} />}
          <div className="cursor" ref={cursor} aria-hidden="true" />
        </div>
      </div>
      <details className="note-list">
        <summary>Notes and lyrics ({display.notes.length})</summary>
        <ol>
          {display.notes.map((n, i) => (
            <li key={i}>
              {n.onset.toFixed(2)} s: {noteName(n.pitch)} for {n.duration.toFixed(2)} s{n.lyric ? `, “${n.lyric}”` : ''}
            </li>
          ))}
        </ol>
      </details>
    </div>
  );
}
