import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { OutputUrls } from '../src/api/types';
import { DownloadLinks } from '../src/components/ResultView';
import { downloadBase, downloadLinks, playSource } from '../src/lib/downloads';

const full: OutputUrls = {
  url: 'https://s/output.wav',
  flacUrl: 'https://s/song.flac',
  listenUrl: 'https://s/song.mp3',
  listenType: 'audio/mpeg',
  dsUrl: 'https://s/song.ds',
  displayUrl: 'https://s/display.json',
  expiresInS: 900,
};
const old: OutputUrls = { url: 'https://s/output.wav', displayUrl: null, expiresInS: 900 };

describe('downloadLinks', () => {
  it('offers WAV first, then FLAC, MP3 and .ds, named after the job', () => {
    const base = downloadBase('0123456789abcdef');
    expect(base).toBe('song-01234567');
    const links = downloadLinks(full, 'blob:wav', base);
    expect(links.map((l) => [l.kind, l.href, l.filename])).toEqual([
      ['wav', 'blob:wav', 'song-01234567.wav'],
      ['flac', 'https://s/song.flac', 'song-01234567.flac'],
      ['listen', 'https://s/song.mp3', 'song-01234567.mp3'],
      ['ds', 'https://s/song.ds', 'song-01234567.ds'],
    ]);
  });

  it('offers only the WAV for a job rendered before the other formats', () => {
    expect(downloadLinks(old, 'https://s/output.wav', 'song-x').map((l) => l.kind)).toEqual(['wav']);
    expect(downloadLinks({ ...old, flacUrl: null, listenUrl: null, dsUrl: 'https://s/song.ds' }, 'w', 'b').map((l) => l.kind)).toEqual([
      'wav',
      'ds',
    ]);
  });

  it('names an Opus listening file .opus', () => {
    const links = downloadLinks({ ...full, listenUrl: 'https://s/song.opus', listenType: 'audio/ogg' }, 'w', 'b');
    expect(links.find((l) => l.kind === 'listen')).toMatchObject({ label: 'OPUS', filename: 'b.opus' });
  });
});

describe('playSource', () => {
  it('plays the compressed file when the browser can', () => {
    expect(playSource(full, 'blob:wav', (t) => (t === 'audio/mpeg' ? 'probably' : ''))).toBe('https://s/song.mp3');
  });

  it('falls back to the WAV when it cannot, or the job has none', () => {
    expect(playSource(full, 'blob:wav', () => '')).toBe('blob:wav');
    expect(playSource(old, 'blob:wav', () => 'probably')).toBe('blob:wav');
  });
});

describe('DownloadLinks', () => {
  it('renders one download link per file, the WAV first', () => {
    const html = renderToStaticMarkup(<DownloadLinks downloads={downloadLinks(full, 'blob:wav', 'song-ab')} />);
    expect(html.match(/<a /g)).toHaveLength(4);
    expect(html.indexOf('download="song-ab.wav"')).toBeLessThan(html.indexOf('download="song-ab.flac"'));
    expect(html).toContain('href="https://s/song.ds"');
    expect(html).toContain('Download FLAC');
    expect(html).toContain('aria-label="Downloads"');
  });
});
