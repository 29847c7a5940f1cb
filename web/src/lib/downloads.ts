/** A completed job's downloads and what the player plays, from the output URLs (GET /v1/jobs/{id}/output). */
import type { OutputUrls } from '../api/types';

export interface Download {
  kind: 'wav' | 'flac' | 'listen' | 'ds';
  label: string;
  href: string;
  /** The file name the browser saves it under (honoured for same-origin and blob URLs). */
  filename: string;
}

const LISTEN_EXTENSIONS: Record<string, string> = { 'audio/mpeg': 'mp3', 'audio/ogg': 'opus' };

/**
 * The base of every download's file name: the song's name made safe for any file system, with the
 * job's id prefix (two renders of one score keep apart); `song-<id>` without a name.
 */
export function downloadBase(jobId: string, title = ''): string {
  const safe = title
    .normalize('NFKC')
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80)
    .replace(/[ .]+$/, '');
  return safe ? `${safe} (${jobId.slice(0, 8)})` : `song-${jobId.slice(0, 8)}`;
}

/** WAV first (always there), then FLAC, the compressed file and the .ds, each only when the job has it. */
export function downloadLinks(urls: OutputUrls, wavHref: string, base: string): Download[] {
  const links: Download[] = [{ kind: 'wav', label: 'WAV', href: wavHref, filename: `${base}.wav` }];
  if (urls.flacUrl) links.push({ kind: 'flac', label: 'FLAC', href: urls.flacUrl, filename: `${base}.flac` });
  if (urls.listenUrl) {
    const ext = LISTEN_EXTENSIONS[urls.listenType ?? ''] ?? 'mp3';
    links.push({ kind: 'listen', label: ext.toUpperCase(), href: urls.listenUrl, filename: `${base}.${ext}` });
  }
  if (urls.dsUrl) links.push({ kind: 'ds', label: '.ds', href: urls.dsUrl, filename: `${base}.ds` });
  return links;
}

/**
 * What the <audio> element plays: the compressed file when the job has one the browser can play,
 * else the WAV. `canPlay` is HTMLMediaElement.canPlayType ('' means no).
 */
export function playSource(urls: OutputUrls, wavHref: string, canPlay: (type: string) => string): string {
  if (urls.listenUrl && urls.listenType && canPlay(urls.listenType) !== '') return urls.listenUrl;
  return wavHref;
}
