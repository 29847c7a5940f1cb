/** Calls `onTime` with the audio's current time on every animation frame while it plays (and on seeks). */
import { useEffect, type RefObject } from 'react';

export function usePlayhead(audioRef: RefObject<HTMLAudioElement | null>, onTime: (seconds: number) => void): void {
  useEffect(() => {
    const audio = audioRef.current;
    if (!audio) return;
    let frame = 0;
    const tick = () => {
      onTime(audio.currentTime);
      if (!audio.paused && !audio.ended) frame = requestAnimationFrame(tick);
    };
    const start = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(tick);
    };
    const once = () => onTime(audio.currentTime);
    audio.addEventListener('play', start);
    audio.addEventListener('seeked', once);
    audio.addEventListener('pause', once);
    audio.addEventListener('ended', once);
    once();
    return () => {
      cancelAnimationFrame(frame);
      audio.removeEventListener('play', start);
      audio.removeEventListener('seeked', once);
      audio.removeEventListener('pause', once);
      audio.removeEventListener('ended', once);
    };
  }, [audioRef, onTime]);
}
