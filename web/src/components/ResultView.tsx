/** The selected job: play it, download it, and see the song as sung. */
import { useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeJobError } from '../api/errors';
import type { Job } from '../api/types';
import { useResult } from '../hooks/useResult';
import { downloadBase, type Download } from '../lib/downloads';
import { formatSeconds, isRendering, songTitle } from '../lib/jobs';
import { ProgressLine } from './JobRow';
import { ProgressivePlayer } from './ProgressivePlayer';
import { SongView } from './SongView';

const NOT_READY: Record<Job['status'], string> = {
  pending: 'It will appear here as soon as it is sung.',
  processing: 'It will appear here as soon as it is sung.',
  completed: '',
  failed: 'This render failed, so there is nothing to play. Your credits were refunded.',
  cancelled: 'This render was cancelled. Your credits were refunded.',
};

/** `playRequest` changes when a song row's Play asks for playback: the player starts once loaded. */
export function ResultView({ client, job, playRequest = 0 }: { client: ApiClient; job: Job; playRequest?: number }) {
  const ready = job.status === 'completed';
  const { result, problem } = useResult(client, ready ? job.id : null);
  const audio = useRef<HTMLAudioElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  // When the song is ready to play, focus moves to it (a keyboard or screen-reader user lands on it).
  useEffect(() => {
    if (result) heading.current?.focus();
  }, [result]);
  const handledPlay = useRef(0);
  useEffect(() => {
    if (!result || playRequest === handledPlay.current) return;
    handledPlay.current = playRequest;
    // A browser may refuse to start without a fresh gesture; the controls are there to press.
    audio.current?.play().catch(() => undefined);
  }, [result, playRequest]);
  // The compressed file failed to load or decode: play the WAV instead.
  const [playFailed, setPlayFailed] = useState(false);
  useEffect(() => setPlayFailed(false), [result]);

  return (
    <section className="card result" aria-labelledby="result-title" data-job-id={job.id}>
      <h2 id="result-title" ref={heading} tabIndex={-1}>
        {songTitle(job)}
        {job.durationSeconds ? <span className="muted"> ({formatSeconds(job.durationSeconds)})</span> : null}
      </h2>
      <p className="visually-hidden" role="status">
        {ready ? (result ? 'Your song is ready to play.' : '') : NOT_READY[job.status]}
      </p>
      {!ready && <p className="muted">{NOT_READY[job.status]}</p>}
      {isRendering(job.status) && <ProgressLine job={job} label={`Progress of ${songTitle(job)}`} />}
      <ProgressivePlayer client={client} job={job} />
      {job.error && <p className="error">{describeJobError(job.error)}</p>}
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {ready && !result && !problem && <p className="muted">Loading the song…</p>}
      {result && (
        <>
          <div className="player">
            <audio
              ref={audio}
              controls
              preload="auto"
              src={playFailed ? result.audioUrl : result.playUrl}
              onError={() => setPlayFailed(true)}
              aria-label="Play the sung song"
            />
            <DownloadLinks downloads={named(result.downloads, job)} />
          </div>
          {result.display ? (
            <SongView display={result.display} peaks={result.peaks} audioSeconds={result.wav?.duration ?? null} audioRef={audio} />
          ) : (
            <p className="muted">This job has no display data, so only the audio is shown.</p>
          )}
        </>
      )}
    </section>
  );
}

/** The downloads saved under the song's current name (it may be renamed while shown). */
function named(downloads: Download[], job: Job): Download[] {
  const plain = downloadBase(job.id);
  const base = downloadBase(job.id, songTitle(job));
  return downloads.map((d) => (d.filename.startsWith(plain) ? { ...d, filename: base + d.filename.slice(plain.length) } : d));
}

/** Download links, WAV first: each saves under the job's name with its own extension. */
export function DownloadLinks({ downloads }: { downloads: Download[] }) {
  return (
    <nav className="downloads" aria-label="Downloads">
      {downloads.map((d) => (
        <a key={d.kind} className="button" href={d.href} download={d.filename} data-kind={d.kind}>
          Download {d.label}
        </a>
      ))}
    </nav>
  );
}
