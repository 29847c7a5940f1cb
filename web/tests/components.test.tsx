import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Display, Job } from '../src/api/types';
import { checkScoreName } from '../src/components/DropZone';
import { JobRow } from '../src/components/JobRow';
import { PianoRoll } from '../src/components/PianoRoll';
import { waveformPath } from '../src/components/Waveform';
import { layout } from '../src/lib/roll';

const display: Display = {
  duration: 1.5,
  notes: [
    { onset: 0, duration: 0.5, pitch: 60, lyric: 'Twin' },
    { onset: 0.5, duration: 0.5, pitch: 60, lyric: 'kle' },
    { onset: 1, duration: 0.5, pitch: 67, lyric: null },
  ],
  phonemes: [
    { start: 0, duration: 0.1, phoneme: 't' },
    { start: 0.1, duration: 0.4, phoneme: 'w' },
  ],
  f0: [
    [0, 261.6],
    [0.02, 262],
  ],
};

const base: Job = {
  id: 'abc',
  status: 'failed',
  renderType: 'final',
  voice: 'builtin',
  language: null,
  progress: { stage: 'parse', fraction: 0 },
  error: { code: 'no_lyrics', message: '' },
  credits: { reserved: 18, charged: 0, refunded: 18 },
  attempts: 1,
  createdAt: 1_700_000_000,
  updatedAt: 1_700_000_001,
};

const noop = () => undefined;

describe('PianoRoll', () => {
  it('draws one rectangle per note and says how many', () => {
    const html = renderToStaticMarkup(<PianoRoll display={display} layout={layout(display)} />);
    expect(html.match(/<rect class="note"/g)).toHaveLength(3);
    expect(html).toContain('data-note-count="3"');
    expect(html).toContain('>Twin</text>');
    expect(html).toContain('<polyline');
    expect(html).toContain('aria-label="Piano roll: 3 notes, 2 phonemes');
  });
});

describe('JobRow', () => {
  it('shows a failed job’s error in words and its refund', () => {
    const html = renderToStaticMarkup(<JobRow job={base} selected={false} onOpen={noop} onCancel={noop} />);
    expect(html).toContain('data-error-code="no_lyrics"');
    expect(html).toContain('Add lyrics');
    expect(html).toContain('18 credits refunded');
    expect(html).not.toContain('<progress');
  });

  it('shows a running job’s stage and progress, and a pending one can be cancelled', () => {
    const running = { ...base, status: 'processing', error: null, progress: { stage: 'acoustic', fraction: 0.5 } } as const;
    const html = renderToStaticMarkup(<JobRow job={running} selected={false} onOpen={noop} onCancel={noop} />);
    expect(html).toContain('Singing · 50%');
    expect(html).toMatch(/<progress[^>]*aria-label="Progress/);
    const pending = { ...base, status: 'pending', error: null, progress: { stage: 'queued', fraction: 0 } } as const;
    expect(renderToStaticMarkup(<JobRow job={pending} selected={false} onOpen={noop} onCancel={noop} />)).toContain('>Cancel</button>');
  });
});

describe('small helpers', () => {
  it('tells a score file name from anything else', () => {
    expect(checkScoreName('song.MusicXML')).toBeNull();
    expect(checkScoreName('song.mxl')).toBeNull();
    expect(checkScoreName('song.pdf')).toMatch(/not a MusicXML score/);
  });

  it('draws one stroke per waveform bucket, silence as a thin line', () => {
    const path = waveformPath([[-1, 1], [0, 0]], 100, 40);
    expect(path.match(/M/g)).toHaveLength(2);
    expect(path.startsWith('M25.0 0.0V40.0')).toBe(true);
    expect(path).toContain('M75.0 19.5V20.5');
  });
});
