/**
 * Sound within seconds, in Chromium on the embedded stack this test starts (one worker): the page
 * starts playing a song's first phrases while the job is still rendering, marks the ready phrases on
 * the piano roll, and what it scheduled, rendered offline, equals the final WAV within one 16-bit step.
 *
 * To know for sure that playback began before the job completed (whatever the machine's speed), the
 * test freezes its own stack's worker (SIGSTOP) once two phrases are ready and lets it go on (SIGCONT)
 * after the page has started playing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, OutputUrls, PhraseList } from '../src/api/types';
import { chromiumInstalled, launch } from './browser';
import { REPO, requireTool, Service, startStack } from './processes';

const DIST = join(REPO, 'web', 'dist', 'index.html');
const UID = 'e2e-streamer';
const BARS = 24; // one phrase a bar: 48 s of song
const enabled = requireTool(chromiumInstalled(), 'Chromium (/usr/bin/chromium)');

let stack: Service;
let port = 0;
let dataDir: string;
let base: string;
let browser: Browser;
let page: Page;
let frozen: number[] = [];

/** A score of `bars` bars at 120 bpm, each three sung quarters and a rest: one phrase per bar. */
function score(bars: number): string {
  const syllables = ['la', 'li', 'lo', 'lu'];
  const measures = Array.from({ length: bars }, (_, b) => {
    const head = b === 0 ? '<attributes><divisions>4</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes><direction><sound tempo="120"/></direction>' : '';
    const notes = [0, 1, 2]
      .map((i) => `<note><pitch><step>${'CDEG'[(b + i) % 4]}</step><octave>4</octave></pitch><duration>4</duration><type>quarter</type><lyric><syllabic>single</syllabic><text>${syllables[(b + i) % 4]}</text></lyric></note>`)
      .join('');
    return `<measure number="${b + 1}">${head}${notes}<note><rest/><duration>4</duration><type>quarter</type></note></measure>`;
  });
  return `<?xml version="1.0"?><score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list><part id="P1">${measures.join('')}</part></score-partwise>`;
}

async function api<T>(path: string): Promise<T> {
  const sign = await fetch(`${base}/v1/auth/local`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ uid: UID }) });
  const { token } = (await sign.json()) as { token: string };
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(response.ok, `${path} answered ${response.status}`).toBe(true);
  return (await response.json()) as T;
}

/** The worker processes of this test's own stack (children of the supervisor serving `port`). */
function stackWorkers(): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null);
  const supervisor = rows.find((m) => /taskkit run/.test(m[3]!) && m[3]!.includes(`--port ${port}`));
  if (!supervisor) throw new Error(`no taskkit supervisor on port ${port}`);
  return rows.filter((m) => m[2] === supervisor[1] && /taskkit worker/.test(m[3]!)).map((m) => Number(m[1]));
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

describe.runIf(enabled)('playing a song while it renders', () => {
  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error('web/dist is missing: run `npm run build` first');
    ({ service: stack, base, port, dataDir } = await startStack('singer-stream', { workers: 1, env: { TASKKIT_LOG_LEVEL: 'WARNING' } }));
    browser = await launch();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  }, 150_000);

  afterAll(async () => {
    signal(frozen, 'SIGCONT');
    await browser?.close();
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts playing before the job completes, and plays the final WAV', async () => {
    await page.goto(base);
    await page.getByLabel('User name').fill(UID);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('balance').waitFor();
    await page.locator('input[type=file]').setInputFiles({ name: 'long.musicxml', mimeType: 'application/xml', buffer: Buffer.from(score(BARS)) });
    await expect.poll(() => page.locator('label.dropzone').textContent()).toContain('long.musicxml');
    await page.getByRole('button', { name: 'Sing it' }).click();
    const row = page.locator('li.job').first();
    await row.waitFor();
    const jobId = (await row.getAttribute('data-job-id')) ?? '';
    expect(jobId).toMatch(/^[a-f0-9]{32}$/);

    // Two phrases ready: freeze the worker, so the job cannot complete until the page is playing.
    let listed: PhraseList = { total: 0, ready: [], displayUrl: null, expiresInS: 0 };
    await expect
      .poll(async () => (listed = await api<PhraseList>(`/v1/jobs/${jobId}/phrases`)).ready.length, { timeout: 90_000, interval: 50 })
      .toBeGreaterThanOrEqual(2);
    frozen = stackWorkers();
    signal(frozen, 'SIGSTOP');
    expect(frozen.length).toBe(1);
    expect(listed.total).toBe(BARS);

    const started = await page.waitForFunction((id) => window.__singerPlayback?.[id]?.startedWith ?? null, jobId, { timeout: 60_000 });
    const startedWith = (await started.jsonValue()) as { ready: number; total: number; status: string };
    expect(startedWith.ready).toBeGreaterThanOrEqual(1);
    expect(startedWith.ready).toBeLessThan(startedWith.total);
    expect(startedWith.status).toBe('processing');
    expect((await api<Job>(`/v1/jobs/${jobId}`)).status).toBe('processing');
    const player = page.getByTestId('progressive');
    await expect.poll(() => player.getAttribute('data-state')).toMatch(/playing|buffering/);
    // The audio clock runs: something was heard.
    await page.waitForFunction(() => document.querySelector('.progressive .cursor')?.getAttribute('style')?.includes('translateX') ?? false);
    // The piano roll (drawn before the job completes) marks the ready phrases.
    await expect.poll(() => page.locator('.phrase-overlay rect.phrase-ready').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('.progressive svg.roll rect.note').count()).toBe(BARS * 3);

    // The page learns that the job completed before it has fetched the last phrases: their WAVs are held
    // back until then (a page that stopped polling at completion stayed a phrase or more short).
    let release: () => void = () => undefined;
    const completed = new Promise<void>((resolve) => (release = resolve));
    const phraseWav = /\/_blobs\/intermediate\/[^?]*\/phrases\/\d+\.wav/;
    await page.route(phraseWav, async (route) => {
      await completed;
      await route.continue();
    });
    signal(frozen, 'SIGCONT');
    frozen = [];
    await expect.poll(async () => (await api<Job>(`/v1/jobs/${jobId}`)).status, { timeout: 120_000, interval: 500 }).toBe('completed');
    await page.locator(`li.job[data-job-id="${jobId}"][data-status="completed"]`).waitFor({ timeout: 30_000 });
    release();
    // The page fetches the last phrases and schedules everything.
    await expect.poll(() => player.getAttribute('data-ready'), { timeout: 30_000 }).toBe(String(BARS));
    await page.unroute(phraseWav);

    const urls = await api<OutputUrls>(`/v1/jobs/${jobId}/output`);
    const compared = await page.evaluate(
      async ({ id, url }) => {
        const log = window.__singerPlayback![id]!;
        const bytes = await (await fetch(url)).arrayBuffer();
        const view = new DataView(bytes);
        let offset = 12;
        while (String.fromCharCode(...[0, 1, 2, 3].map((i) => view.getUint8(offset + i))) !== 'data') offset += 8 + view.getUint32(offset + 4, true);
        const final = new Int16Array(bytes.slice(offset + 8, offset + 8 + view.getUint32(offset + 4, true)));
        const offline = new OfflineAudioContext(1, final.length, log.sampleRate);
        for (const chunk of log.chunks) {
          const buffer = offline.createBuffer(1, chunk.samples.length, log.sampleRate);
          buffer.copyToChannel(chunk.samples as Float32Array<ArrayBuffer>, 0);
          const source = offline.createBufferSource();
          source.buffer = buffer;
          source.connect(offline.destination);
          source.start(chunk.start / log.sampleRate);
        }
        const played = (await offline.startRendering()).getChannelData(0);
        let maxDiff = 0;
        let loud = 0;
        for (let i = 0; i < final.length; i++) {
          const q = Math.round(Math.min(1, Math.max(-1, played[i]!)) * 32767);
          maxDiff = Math.max(maxDiff, Math.abs(q - final[i]!));
          if (Math.abs(final[i]!) > 1000) loud++;
        }
        const last = log.chunks.at(-1)!;
        return { maxDiff, loud, length: final.length, scheduled: last.start + last.samples.length, chunks: log.chunks.length };
      },
      { id: jobId, url: urls.url },
    );
    expect(compared.chunks).toBeGreaterThan(1); // stitched in as phrases arrived, not one buffer at the end
    expect(compared.loud).toBeGreaterThan(compared.length / 10); // the comparison covers sung audio
    expect(compared.scheduled).toBeLessThanOrEqual(compared.length);
    expect(compared.maxDiff).toBeLessThanOrEqual(1);
  });
});
