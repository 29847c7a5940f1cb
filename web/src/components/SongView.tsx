/** Piano roll and waveform on one scrolling time axis, with a cursor that follows playback. */
import { useCallback, useMemo, useRef, type KeyboardEvent, type MouseEvent, type RefObject } from 'react';
import type { Display } from '../api/types';
import { usePlayhead } from '../hooks/usePlayhead';
import { layout, noteName, timeToX, xToTime } from '../lib/roll';
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
  const l = useMemo(() => layout(display), [display]);
  const scroller = useRef<HTMLDivElement>(null);
  const cursor = useRef<HTMLDivElement>(null);

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
      ' ': () => void (audio.paused ? audio.play() : audio.pause()),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };

  return (
    <>
      <div
        className="song"
        ref={scroller}
        tabIndex={0}
        role="group"
        aria-label="The song. Left and right arrows move the playback position, space plays or pauses, a click seeks."
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
    </>
  );
}
