/** A completed job's result: signed URLs, the display data and the WAV (for the waveform). */
import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Display } from '../api/types';
import { downloadBase, downloadLinks, playSource, type Download } from '../lib/downloads';
import { parseWav, peaks, type WavInfo } from '../lib/wav';

export interface Result {
  /** The WAV: a blob URL, or the signed URL itself. */
  audioUrl: string;
  /** What the <audio> element plays: the compressed file when there is one the browser plays, else the WAV. */
  playUrl: string;
  /** WAV, FLAC, the compressed file and the .ds, each when the job has it. */
  downloads: Download[];
  display: Display | null;
  wav: WavInfo | null;
  /** [min, max] per bucket, or null when the bytes could not be fetched (e.g. no CORS). */
  peaks: [number, number][] | null;
}

const PEAKS_PER_SECOND = 45;

/** Whether this browser can play a content type ('' when it cannot, or outside a browser). */
function browserCanPlay(type: string): string {
  return typeof document === 'undefined' ? '' : document.createElement('audio').canPlayType(type);
}

export function useResult(client: ApiClient, jobId: string | null): { result: Result | null; problem: string | null } {
  const [result, setResult] = useState<Result | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    setResult(null);
    setProblem(null);
    if (!jobId) return;
    let current = true;
    let blobUrl: string | null = null;
    (async () => {
      const urls = await client.output(jobId);
      const display = urls.displayUrl ? await client.display(urls.displayUrl) : null;
      let audioUrl = urls.url;
      let wav: WavInfo | null = null;
      let bars: [number, number][] | null = null;
      try {
        const response = await fetch(urls.url);
        if (response.ok) {
          const bytes = await response.arrayBuffer();
          if (!current) return;
          wav = parseWav(bytes);
          bars = peaks(bytes, wav, Math.max(1, Math.round(wav.duration * PEAKS_PER_SECOND)));
          blobUrl = URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
          audioUrl = blobUrl;
        }
      } catch {
        // Bytes unavailable to scripts (storage without CORS): play from the signed URL, no waveform.
      }
      const playUrl = playSource(urls, audioUrl, browserCanPlay);
      const downloads = downloadLinks(urls, audioUrl, downloadBase(jobId));
      if (current) setResult({ audioUrl, playUrl, downloads, display, wav, peaks: bars });
    })().catch((e: unknown) => current && setProblem(describeError(e)));
    return () => {
      current = false;
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    };
  }, [client, jobId]);

  return { result, problem };
}
