/** The library's pieces: file checks, render settings, the row's actions, the roll's layout, share paths. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api/client';
import type { Display, Job, Voice } from '../src/api/types';
import { AccountData } from '../src/components/AccountData';
import { signed } from '../src/components/CreditHistory';
import { checkScoreFiles, MAX_SCORE_BYTES } from '../src/components/DropZone';
import { JobRow, shareHref, type RowActions } from '../src/components/JobRow';
import { fetchSample } from '../src/components/VoicePicker';
import {
  checkSettings,
  defaultSettings,
  offeredTypes,
  RenderOptions,
  settingsOf,
  toJobCreate,
} from '../src/components/RenderOptions';
import { shareToken } from '../src/components/SharedSong';
import { Balance } from '../src/components/Workspace';
import { downloadBase } from '../src/lib/downloads';
import { firstNoteTime, layout, lyricLanes, pitchToY, rulerTicks } from '../src/lib/roll';
import { toJob } from '../src/live/jobDoc';

const builtin: Voice = {
  name: 'builtin',
  author: null,
  description: null,
  languages: ['en', 'zh'],
  speakers: [],
  stages: ['acoustic'],
  licence: null,
  portraitUrl: null,
  sampleUrl: '/v1/voices/builtin/sample',
  finalDiffers: false,
};
const alto: Voice = { ...builtin, name: 'alto', speakers: ['soft', 'bright'], stages: ['pitch', 'acoustic'], finalDiffers: true };

const song: Job = {
  id: 'f'.repeat(32),
  status: 'completed',
  renderType: 'preview',
  voice: 'alto',
  speaker: 'bright',
  expression: 'score',
  language: 'en',
  progress: { stage: 'done', fraction: 1 },
  error: null,
  credits: { reserved: 6, charged: 2, refunded: 4 },
  attempts: 1,
  durationSeconds: 61,
  createdAt: 1_700_000_000,
  updatedAt: 1_700_000_100,
  title: 'Twinkle',
  scoreId: 'a'.repeat(32),
  filename: 'twinkle.musicxml',
  keyShift: 3,
  tempoFactor: 1.25,
  verse: '2',
  part: 'P1',
  share: null,
};

describe('score files are checked before they are sent', () => {
  it('takes one score of an acceptable size', () => {
    expect(checkScoreFiles([{ name: 'a.mxl', size: 10 }])).toBeNull();
  });

  it('refuses several files, an empty or a too large one, naming the limit', () => {
    expect(checkScoreFiles([{ name: 'a.mxl', size: 1 }, { name: 'b.mxl', size: 1 }])).toMatch(/2 files were dropped/);
    expect(checkScoreFiles([{ name: 'a.mxl', size: 0 }])).toMatch(/is empty/);
    expect(checkScoreFiles([{ name: 'big.musicxml', size: MAX_SCORE_BYTES + 1 }])).toMatch(/2\.0 MB at most/);
    expect(checkScoreFiles([{ name: 'a.pdf', size: 5 }])).toMatch(/not a MusicXML score/);
  });
});

describe('render settings', () => {
  it('offers final only for a voice that sings it differently', () => {
    expect(offeredTypes(builtin)).toEqual(['preview']);
    expect(offeredTypes(alto)).toEqual(['preview', 'final']);
    expect(offeredTypes({ ...alto, finalDiffers: undefined })).toEqual(['preview', 'final']);
  });

  it('re-renders with the song’s own settings and sends only what differs from the defaults', () => {
    const s = settingsOf(song, [builtin, alto]);
    expect(s).toMatchObject({ keyShift: 3, tempoFactor: 1.25, verse: '2', part: 'P1', language: 'en' });
    expect(s.choice).toEqual({ voice: 'alto', speaker: 'bright', expression: 'score' });
    expect(toJobCreate(s, song.scoreId ?? '', 'Twinkle')).toEqual({
      scoreId: song.scoreId,
      renderType: 'preview',
      voice: 'alto',
      speaker: 'bright',
      expression: 'score',
      language: 'en',
      title: 'Twinkle',
      keyShift: 3,
      tempoFactor: 1.25,
      verse: '2',
      part: 'P1',
    });
    expect(toJobCreate(defaultSettings([builtin]), 'x')).toEqual({ scoreId: 'x', renderType: 'preview', voice: 'builtin' });
  });

  it('refuses a key shift or tempo out of range before asking the API', () => {
    expect(checkSettings({ keyShift: 25, tempoFactor: 1 })).toMatch(/−24 to 24/);
    expect(checkSettings({ keyShift: 1.5, tempoFactor: 1 })).toMatch(/whole number/);
    expect(checkSettings({ keyShift: 0, tempoFactor: 5 })).toMatch(/0.25 to 4/);
    expect(checkSettings({ keyShift: -24, tempoFactor: 0.25 })).toBeNull();
  });

  it('lists the score’s verses and parts, and one render type for a voice without a different final', () => {
    const html = renderToStaticMarkup(
      <RenderOptions
        voices={[builtin, alto]}
        voicesProblem={null}
        upload={{ verses: ['1', '2'], parts: [{ id: 'P1', name: 'Soprano', hasLyrics: true }, { id: 'P2', name: 'Piano', hasLyrics: false }] }}
        settings={defaultSettings([builtin, alto])}
        onChange={() => undefined}
        resolve={(p) => p}
      />,
    );
    expect(html).toContain('>Verse 2</option>');
    expect(html).toContain('>Soprano</option>');
    expect(html).toContain('>Piano (no lyrics)</option>');
    expect(html).toContain('there is one render type');
    expect(html).not.toContain('value="final"');
    expect(html).toContain('aria-label="Play a sample of builtin"');
    expect(html).toContain('id="keyShift"');
    expect(html).toContain('id="tempo"');
  });

  it('offers both render types, with what final buys, for a voice whose final differs', () => {
    const html = renderToStaticMarkup(
      <RenderOptions
        voices={[alto]}
        voicesProblem={null}
        upload={null}
        settings={defaultSettings([alto])}
        onChange={() => undefined}
        resolve={(p) => p}
        costs={{ preview: 1, final: 18 }}
      />,
    );
    expect(html).toContain('value="final"');
    expect(html).toContain('holds up to 1 credit<');
    expect(html).toContain('holds up to 18 credits');
    expect(html).toContain('Final runs the voice’s full diffusion');
    // A score with one verse and one part has nothing to choose.
    expect(html).not.toContain('id="verse"');
  });
});

describe('a song row', () => {
  const actions: RowActions = {
    client: new ApiClient('', () => Promise.resolve('t')),
    voices: [builtin, alto],
    voicesProblem: null,
    onOpen: () => undefined,
    onChanged: () => undefined,
    onCreated: () => undefined,
    onRemoved: () => undefined,
  };

  it('shows the name, voice, length, date and settings, and what can be done with a finished song', () => {
    const html = renderToStaticMarkup(<JobRow job={song} selected={false} actions={actions} />);
    expect(html).toContain('>Twinkle</h3>');
    expect(html).toMatch(/alto · 1 min 1 s · /);
    expect(html).toContain('bright · key +3 semitones · tempo ×1.25 · verse 2 · part P1');
    for (const action of ['Play', 'Rename', 'Re-render', 'Share', 'Delete']) expect(html).toContain(`${action}</button>`);
    expect(html).not.toContain('Retry</button>');
    expect(html).toContain('2 credits charged');
  });

  it('offers retry for a failed song and cancel for one in flight', () => {
    const failed = renderToStaticMarkup(<JobRow job={{ ...song, status: 'failed' }} selected={false} actions={actions} />);
    expect(failed).toContain('Retry</button>');
    expect(failed).not.toContain('Play</button>');
    const running = renderToStaticMarkup(
      <JobRow
        job={{ ...song, status: 'processing', progress: { stage: 'phrases', fraction: 0, done: 1, total: 4, etaSeconds: null } }}
        selected={false}
        actions={actions}
      />,
    );
    expect(running).toContain('Cancel</button>');
    expect(running).toContain('Singing: 1 of 4 phrases done');
    expect(running).toMatch(/<progress max="1" value="0.25"/);
  });
});

describe('the piano roll', () => {
  const fast: Display = {
    duration: 30,
    notes: [
      { onset: 12, duration: 0.1, pitch: 60, lyric: 'twin' },
      { onset: 12.1, duration: 0.1, pitch: 62, lyric: 'kle' },
      { onset: 12.2, duration: 1, pitch: 64, lyric: 'star' },
      { onset: 20, duration: 1, pitch: 64, lyric: 'how' },
    ],
    phonemes: [],
    f0: [],
  };

  it('stacks lyrics that would overlap and reuses the first lane once free', () => {
    expect(lyricLanes(fast.notes, 90)).toEqual([0, 1, 2, 0]);
    // Zoomed in far enough, they fit in one lane.
    expect(lyricLanes(fast.notes, 1000)).toEqual([0, 0, 0, 0]);
    const l = layout(fast, 90);
    expect(l.lyricLanes).toBe(3);
    expect(pitchToY(l, l.highPitch)).toBe(l.top);
  });

  it('opens at the first note and labels time in m:ss at a readable spacing', () => {
    expect(firstNoteTime(fast)).toBe(12);
    const ticks = rulerTicks({ width: 90 * 130, pxPerSecond: 90 });
    expect(ticks[1]?.x).toBe(90);
    expect(ticks.at(-1)?.label).toBe('2:10');
    const wide = rulerTicks({ width: 20 * 130, pxPerSecond: 20 });
    expect((wide[1]?.x ?? 0) - (wide[0]?.x ?? 0)).toBeGreaterThanOrEqual(70);
  });
});

describe('sharing and small helpers', () => {
  it('reads a share token from the /s/ path only', () => {
    expect(shareToken('/s/AbC-d_e0123')).toBe('AbC-d_e0123');
    expect(shareToken('/s/short')).toBeNull();
    expect(shareToken('/x/AbC-d_e0123')).toBeNull();
    expect(shareHref({ url: '/s/tok', token: 'tok' }, 'https://sing.example')).toBe('https://sing.example/s/tok');
  });

  it('signs ledger amounts with a real minus', () => {
    expect(signed(5)).toBe('+5');
    expect(signed(-3)).toBe('−3');
  });

  it('names downloads after the song, safe for any file system', () => {
    expect(downloadBase('0123456789', 'Ode: to/joy?')).toBe('Ode to joy (01234567)');
    expect(downloadBase('0123456789', '  ')).toBe('song-01234567');
  });

  it('carries the library fields of a live job document', () => {
    const job = toJob('j', {
      status: 'processing',
      createdAt: 1,
      progress: { stage: 'phrases', fraction: 0, done: 2, total: 5, etaSeconds: 7 },
      title: 'Ode',
      scoreId: 's',
      keyShift: -2,
      share: { token: 't', url: '/s/t', expiresAt: 9 },
    });
    expect(job.progress).toMatchObject({ done: 2, total: 5, etaSeconds: 7 });
    expect(job).toMatchObject({ title: 'Ode', scoreId: 's', keyShift: -2, tempoFactor: 1, share: { token: 't' } });
  });
});

describe('the client’s library calls', () => {
  let server: Server;
  let base = '';
  const seen: string[] = [];
  beforeAll(async () => {
    let sampleAsks = 0;
    server = createServer((req, res) => {
      if (req.url === '/sample') {
        // As the API does: 202 while the sample renders, then the audio.
        sampleAsks += 1;
        if (sampleAsks < 3) {
          res.writeHead(202, { 'Retry-After': '1', 'Content-Type': 'application/json' });
          res.end('{"detail":"rendering"}');
        } else {
          res.writeHead(200, { 'Content-Type': 'audio/wav' });
          res.end('RIFF');
        }
        return;
      }
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? 'no-auth'}`);
      if (req.method === 'DELETE') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('waits for a voice sample that is still rendering, then hands back a playable URL', async () => {
    const waits: number[] = [];
    const url = await fetchSample(`${base}/sample`, (s) => {
      waits.push(s);
      return Promise.resolve();
    });
    expect(waits).toEqual([1, 1]);
    expect(url).toMatch(/^blob:/);
  });

  it('deletes (204, no body), renames, shares and reads a share without a token', async () => {
    const client = new ApiClient(base, () => Promise.resolve('tok'));
    await expect(client.deleteJob('j1')).resolves.toBeUndefined();
    await client.rename('j1', 'New');
    await client.share('j1');
    await client.unshare('j1');
    await client.shared('abc');
    await client.credits(5, 9);
    expect(seen).toEqual([
      'DELETE /v1/jobs/j1 Bearer tok',
      'PATCH /v1/jobs/j1 Bearer tok',
      'POST /v1/jobs/j1/share Bearer tok',
      'DELETE /v1/jobs/j1/share Bearer tok',
      'GET /v1/shared/abc no-auth',
      'GET /v1/me/credits?limit=5&before=9 Bearer tok',
    ]);
  });
});

describe('the balance in the top bar', () => {
  const me = { uid: 'u', balance: 40, reserved: 6, available: 34, inFlight: 1, plan: 'free', costs: { preview: 6, final: 18 } };

  it('shows the credits held by running renders beside the balance', () => {
    const html = renderToStaticMarkup(<Balance me={me} />);
    expect(html).toContain('data-testid="balance">34</strong> credits');
    expect(html).toContain('· 6 held by 1 render');
  });

  it('says nothing held when nothing is, and keeps its place while loading', () => {
    expect(renderToStaticMarkup(<Balance me={{ ...me, reserved: 0, inFlight: 0, available: 1 }} />)).not.toContain('held');
    expect(renderToStaticMarkup(<Balance me={{ ...me, reserved: 0, inFlight: 0, available: 1 }} />)).toContain('</strong> credit<');
    expect(renderToStaticMarkup(<Balance me={null} />)).toContain('class="balance"');
  });
});

describe('the account’s data', () => {
  it('offers the export and a guarded account deletion', () => {
    const html = renderToStaticMarkup(
      <AccountData client={new ApiClient('', () => Promise.resolve('t'))} label="alice" onDeleted={() => undefined} />,
    );
    expect(html).toContain('Download my data</button>');
    expect(html).toContain('Delete my account…</button>');
    // The confirmation (typing the name) only appears once asked for.
    expect(html).not.toContain('Delete everything');
  });
});
