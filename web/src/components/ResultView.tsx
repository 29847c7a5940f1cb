/** The selected job: play it, download it, and see the song as sung. */
import { useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeJobError } from '../api/errors';
import type { Job } from '../api/types';
import { useResult } from '../hooks/useResult';
import type { Download } from '../lib/downloads';
import { formatSeconds } from '../lib/jobs';
import { SongView } from './SongView';

const NOT_READY: Record<Job['status'], string> = {
  pending: 'It will appear here as soon as it is sung.',
  processing: 'It will appear here as soon as it is sung.',
  completed: '',
  failed: 'This render failed, so there is nothing to play. Your credits were refunded.',
  cancelled: 'This render was cancelled. Your credits were refunded.',
};

export function ResultView({ client, job }: { client: ApiClient; job: Job }) {
  const ready = job.status === 'completed';
  const { result, problem } = useResult(client, ready ? job.id : null);
  const audio = useRef<HTMLAudioElement>(null);
  // The compressed file failed to load or decode: play the WAV instead.
  const [playFailed, setPlayFailed] = useState(false);
  useEffect(() => setPlayFailed(false), [result]);

  return (
    <section className="card result" aria-labelledby="result-title" data-job-id={job.id}>
      <h2 id="result-title">Your song{job.durationSeconds ? ` (${formatSeconds(job.durationSeconds)})` : ''}</h2>
      <p className="visually-hidden" role="status">
        {ready ? (result ? 'Your song is ready to play.' : '') : NOT_READY[job.status]}
      </p>
      {!ready && <p className="muted">{NOT_READY[job.status]}</p>}
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
            <DownloadLinks downloads={result.downloads} />
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
