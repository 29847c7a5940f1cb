import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Display, Job, Voice } from '../src/api/types';
import { checkScoreName } from '../src/components/DropZone';
import { JobRow } from '../src/components/JobRow';
import { PianoRoll } from '../src/components/PianoRoll';
import { defaultChoice, initialChoice, VoicePicker } from '../src/components/VoicePicker';
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
    const running = { ...base, status: 'processing', error: null, progress: { stage: 'phrases', fraction: 0.5 } } as const;
    const html = renderToStaticMarkup(<JobRow job={running} selected={false} onOpen={noop} onCancel={noop} />);
    expect(html).toContain('Singing: 50% done');
    expect(html).toMatch(/<progress[^>]*aria-label="Progress/);
    const pending = { ...base, status: 'pending', error: null, progress: { stage: 'queued', fraction: 0 } } as const;
    expect(renderToStaticMarkup(<JobRow job={pending} selected={false} onOpen={noop} onCancel={noop} />)).toContain('>Cancel</button>');
  });
});

const builtin: Voice = {
  name: 'builtin',
  author: null,
  description: 'The weight-free formant voice.',
  languages: ['en', 'zh'],
  speakers: [],
  stages: ['acoustic'],
  licence: null,
  portraitUrl: null,
};
const alto: Voice = {
  name: 'alto',
  author: 'A. Singer',
  description: null,
  languages: ['zh'],
  speakers: ['soft', 'bright'],
  stages: ['duration', 'pitch', 'acoustic', 'vocoder'],
  licence: 'CC BY-NC-SA 4.0',
  portraitUrl: '/v1/voices/alto/portrait',
};
const resolve = (path: string) => `https://api.example${path}`;

describe('VoicePicker', () => {
  it('offers the installed voices and nothing more for a single-speaker voice without variance models', () => {
    const html = renderToStaticMarkup(
      <VoicePicker voices={[builtin, alto]} choice={{ voice: 'builtin' }} onChange={noop} resolve={resolve} />,
    );
    expect(html.match(/type="radio" id="voice-/g)).toHaveLength(2);
    expect(html).toContain('Mandarin');
    expect(html).toContain('English, Mandarin');
    expect(html).not.toContain('id="speaker"');
    expect(html).not.toContain('name="expression"');
    expect(html).toContain('The weight-free formant voice.');
  });

  it('offers speakers and expression, with the voice’s author, licence and portrait', () => {
    const html = renderToStaticMarkup(
      <VoicePicker voices={[builtin, alto]} choice={defaultChoice(alto)} onChange={noop} resolve={resolve} />,
    );
    expect(html).toContain('id="speaker"');
    expect(html).toContain('>bright</option>');
    expect(html.match(/name="expression"/g)).toHaveLength(2);
    expect(html).toContain('By A. Singer');
    expect(html).toContain('Licence: CC BY-NC-SA 4.0');
    expect(html).toContain('src="https://api.example/v1/voices/alto/portrait"');
  });

  it('starts on the built-in voice when installed, with each voice’s defaults', () => {
    expect(initialChoice([alto, builtin])).toEqual({ voice: 'builtin' });
    expect(initialChoice([alto])).toEqual({ voice: 'alto', speaker: 'soft', expression: 'voice' });
    expect(initialChoice([])).toBeNull();
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
