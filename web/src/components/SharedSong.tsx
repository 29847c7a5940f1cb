/** A song shared by its owner (/s/{token}): plays it read-only for anyone with the link, no sign-in. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiClient, ApiError } from '../api/client';
import { describeError } from '../api/errors';
import type { Display, SharedSong as Shared } from '../api/types';
import { formatSeconds } from '../lib/jobs';
import { SongView } from './SongView';

export { shareToken } from './shareToken';

function noToken(): Promise<string> {
  return Promise.reject(new Error('a shared song needs no sign-in'));
}

export function SharedSong({ apiBase, token }: { apiBase: string; token: string }) {
  const client = useMemo(() => new ApiClient(apiBase, noToken), [apiBase]);
  const [song, setSong] = useState<Shared | null>(null);
  const [display, setDisplay] = useState<Display | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [playFailed, setPlayFailed] = useState(false);
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    let current = true;
    (async () => {
      const found = await client.shared(token);
      if (!current) return;
      setSong(found);
      document.title = `${found.title} · AI singer`;
      if (found.display) {
        const shown = await client.display(found.display);
        if (current) setDisplay(shown);
      }
    })().catch((e: unknown) => {
      if (!current) return;
      setProblem(
        e instanceof ApiError && e.status === 404
          ? 'This link does not play a song any more: its owner revoked it, or it expired. Ask them for a new one.'
          : describeError(e),
      );
    });
    return () => {
      current = false;
    };
  }, [client, token]);
  const source = song && (playFailed || !song.listenUrl ? song.url : song.listenUrl);
  return (
    <main className="shared">
      <p className="lead">
        <a href="/">AI singer</a> · a shared song
      </p>
      {problem && (
        <section className="card" aria-labelledby="shared-title">
          <h1 id="shared-title">Song not available</h1>
          <p className="error" role="alert">
            {problem}
          </p>
        </section>
      )}
      {!song && !problem && <p className="muted">Loading the song…</p>}
      {song && source && (
        <section className="card result" aria-labelledby="shared-title">
          <h1 id="shared-title">{song.title}</h1>
          <p className="muted">
            Sung by {song.voice}
            {song.durationSeconds ? ` · ${formatSeconds(song.durationSeconds)}` : ''} · link valid until{' '}
            {new Date(song.expiresAt * 1000).toLocaleDateString()}
          </p>
          <div className="player">
            <audio
              ref={audio}
              controls
              // Metadata only: the page (and its piano roll) comes first on a slow phone connection.
              preload="metadata"
              src={source}
              onError={() => setPlayFailed(true)}
              aria-label={`Play ${song.title}`}
            />
          </div>
          {display && <SongView display={display} peaks={null} audioSeconds={song.durationSeconds} audioRef={audio} />}
        </section>
      )}
    </main>
  );
}
