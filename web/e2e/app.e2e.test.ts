/**
 * The SPA end to end on the embedded stack this test starts: local sign-in, upload the fixture score,
 * follow the job over the event stream to completion, play the WAV, count the drawn notes, fit a
 * phone screen, log no console errors. Screenshots go to artifacts/web/.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api/client';
import type { Display, Job, OutputUrls } from '../src/api/types';
import { chromiumInstalled, launch } from './browser';
import { ARTIFACTS, REPO, requireTool, Service, startStack } from './processes';

const SCORE = join(REPO, 'tests', 'singer_tasks', 'fixtures', 'scores', 'twinkle.musicxml');
const DIST = join(REPO, 'web', 'dist', 'index.html');
const UID = 'e2e-singer';
/** The finished song's view (the progressive player, while a song renders, draws a roll of its own). */
const FINAL = 'section.result .song-view:not([data-testid="progressive"] *)';
const enabled = requireTool(chromiumInstalled(), 'Chromium (/usr/bin/chromium)');

let stack: Service;
let dataDir: string;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let jobId = '';
const consoleErrors: string[] = [];
const requests: string[] = [];

/** Calls the API from node as the same user (a second local token for the same uid). */
async function api<T>(path: string): Promise<T> {
  const sign = await fetch(`${base}/v1/auth/local`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ uid: UID }),
  });
  const { token } = (await sign.json()) as { token: string };
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(response.ok, `${path} answered ${response.status}`).toBe(true);
  return (await response.json()) as T;
}

describe.runIf(enabled)('the web app on the embedded stack', () => {
  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error('web/dist is missing: run `npm run build` first');
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ service: stack, base, dataDir } = await startStack('singer-e2e'));
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}${new URL(r.url()).search}`));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in locally and shows the balance', async () => {
    await page.goto(base);
    await page.getByLabel('User name').fill(UID);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const balance = page.getByTestId('balance');
    await balance.waitFor();
    const me = await api<{ available: number }>('/v1/me');
    expect(Number(await balance.textContent())).toBe(me.available);
  });

  it('labels every control', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('input, select, button, audio, [tabindex]')]
        .filter((el) => {
          const labels = (el as HTMLInputElement).labels;
          return !(labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-describedby') || el.textContent?.trim());
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabelled).toEqual([]);
  });

  it('refuses a file that is not a score before uploading it', async () => {
    await page.locator('input[type=file]').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF') });
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not a MusicXML score/);
  });

  it('takes the fixture score by drag and drop and creates a preview job', async () => {
    const text = readFileSync(SCORE, 'utf8');
    const dataTransfer = await page.evaluateHandle((xml) => {
      const dt = new DataTransfer();
      dt.items.add(new File([xml], 'twinkle.musicxml', { type: 'application/vnd.recordare.musicxml+xml' }));
      return dt;
    }, text);
    await page.dispatchEvent('label.dropzone', 'drop', { dataTransfer });
    await expect.poll(() => page.locator('label.dropzone').textContent()).toContain('twinkle.musicxml');
    // A voice whose final sings the same offers preview only (then there is no choice to make).
    const preview = page.getByLabel('Preview (fast, cheaper)');
    if (await preview.count()) await preview.check();
    // Record every status and stage the job rows show, to check the progress display later.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenStages: string[] }).seenStages = seen;
      const record = () => {
        for (const li of document.querySelectorAll('li.job')) {
          const state = `${li.getAttribute('data-status')}:${li.getAttribute('data-stage')}`;
          if (seen.at(-1) !== state) seen.push(state);
        }
      };
      new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
    });
    await page.getByRole('button', { name: 'Sing it' }).click();
    const row = page.locator('li.job').first();
    await row.waitFor();
    jobId = (await row.getAttribute('data-job-id')) ?? '';
    expect(jobId).toMatch(/^[a-f0-9]{32}$/);
    const job = await api<Job>(`/v1/jobs/${jobId}`);
    expect(job.renderType).toBe('preview');
  });

  it('follows the job to completion over the event stream', async () => {
    const listsBefore = requests.filter((r) => r.startsWith('GET /v1/jobs?')).length;
    await page.locator(`li.job[data-job-id="${jobId}"][data-status="completed"]`).waitFor({ timeout: 90_000 });
    // The row went through the render's stages as they happened (recorded since the job appeared).
    const seen = await page.evaluate(() => (window as unknown as { seenStages: string[] }).seenStages);
    expect(seen.some((state) => state.startsWith('processing:'))).toBe(true);
    expect(seen.at(-1)).toBe('completed:done');
    expect(requests.some((r) => r.startsWith('GET /v1/events?ticket='))).toBe(true);
    // The completion arrived as an event: the list was not fetched again (the per-job polls while
    // phrases render carry progress only; src/lib/jobs.ts withPolledProgress ignores their status).
    expect(requests.filter((r) => r.startsWith('GET /v1/jobs?')).length).toBe(listsBefore);
  });

  it('plays a WAV as long as the job says', async () => {
    const job = await api<Job>(`/v1/jobs/${jobId}`);
    expect(job.status).toBe('completed');
    const audio = page.locator('section.result audio');
    await audio.waitFor();
    await page.waitForFunction(() => (document.querySelector<HTMLAudioElement>('section.result audio')?.readyState ?? 0) >= 1);
    const duration = await audio.evaluate((a: HTMLAudioElement) => a.duration);
    expect(Math.abs(duration - (job.durationSeconds ?? 0))).toBeLessThan(0.05);

    // The bytes behind the download link are a RIFF/WAVE file of that length (16-bit mono).
    const header = await page.evaluate(async () => {
      const href = document.querySelector<HTMLAnchorElement>('a[download]')?.href ?? '';
      const bytes = new DataView(await (await fetch(href)).arrayBuffer());
      const tag = (o: number) => String.fromCharCode(...[0, 1, 2, 3].map((i) => bytes.getUint8(o + i)));
      return { riff: tag(0), wave: tag(8), rate: bytes.getUint32(24, true), size: bytes.byteLength };
    });
    expect(header).toMatchObject({ riff: 'RIFF', wave: 'WAVE' });
    expect(Math.abs((header.size - 44) / 2 / header.rate - (job.durationSeconds ?? 0))).toBeLessThan(0.01);

    // Keyboard: focus the song and press space; playback runs and the cursor follows it.
    await page.locator(`${FINAL} .song`).focus();
    await page.keyboard.press('Space');
    await page.waitForFunction(() => (document.querySelector<HTMLAudioElement>('section.result audio')?.currentTime ?? 0) > 0.5, null, { timeout: 10_000 });
    const cursorTime = Number(await page.locator(`${FINAL} .cursor`).getAttribute('data-time'));
    expect(cursorTime).toBeGreaterThan(0.2);
    await page.keyboard.press('Space');
    expect(await audio.evaluate((a: HTMLAudioElement) => a.paused)).toBe(true);
  });

  it('draws as many notes as the display data holds, with the f0 curve and the waveform', async () => {
    const urls = await api<OutputUrls>(`/v1/jobs/${jobId}/output`);
    const display = (await (await fetch(urls.displayUrl ?? '')).json()) as Display;
    // The score's own sung notes: pitched <note>s that do not continue a tie (one part, no chords).
    const scoreNotes = (readFileSync(SCORE, 'utf8').match(/<note>[\s\S]*?<\/note>/g) ?? []).filter(
      (n) => n.includes('<pitch>') && !n.includes('<tie type="stop"'),
    );
    expect(display.notes.length).toBe(scoreNotes.length);
    const roll = page.locator(`${FINAL} svg.roll`);
    expect(Number(await roll.getAttribute('data-note-count'))).toBe(display.notes.length);
    expect(await roll.locator('rect.note').count()).toBe(display.notes.length);
    expect(await roll.locator('.f0 polyline').count()).toBeGreaterThan(0);
    expect(await page.locator(`${FINAL} svg.waveform path`).getAttribute('d')).toMatch(/^M/);
    await page.screenshot({ path: join(ARTIFACTS, 'desktop.png'), fullPage: true });
  });

  it('explains a failed render in words a person can act on', async () => {
    const noLyrics = readFileSync(SCORE, 'utf8').replace(/<lyric[\s\S]*?<\/lyric>/g, '');
    expect(noLyrics).not.toContain('<lyric');
    await page.locator('input[type=file]').setInputFiles({ name: 'no-lyrics.musicxml', mimeType: 'application/xml', buffer: Buffer.from(noLyrics) });
    await page.getByRole('button', { name: 'Sing it' }).click();
    const failed = page.locator('li.job[data-status="failed"]').first();
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.locator('[data-error-code]').getAttribute('data-error-code')).toBe('no_lyrics');
    expect(await failed.textContent()).toContain('Add lyrics under the notes');
    expect(await failed.textContent()).toMatch(/\d+ credits? refunded/);
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // Back to the sung song (the failed job is selected now), chosen from the list.
    await page.locator(`li.job[data-job-id="${jobId}"]`).getByRole('button', { name: /^Play / }).click();
    await page.locator(`${FINAL} svg.roll`).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'phone.png'), fullPage: true });
    const wide = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      // Elements sticking out of the page (the song scrolls inside its own box, so it does not count).
      return [...document.querySelectorAll<HTMLElement>('body *')]
        .filter((el) => !el.closest('.song') && el.getBoundingClientRect().right > width + 0.5)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent?.slice(0, 60)}`);
    });
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });

  it('uploads through a signed URL as production does, and the API accepts that score', async () => {
    const sign = await fetch(`${base}/v1/auth/local`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ uid: UID }),
    });
    const { token } = (await sign.json()) as { token: string };
    const client = new ApiClient(base, () => Promise.resolve(token));
    const upload = await client.uploadSigned(new File([readFileSync(SCORE)], 'twinkle.musicxml'));
    expect(upload.scoreId).toMatch(/^[a-f0-9]{32}$/);
    const job = await client.createJob({ scoreId: upload.scoreId, renderType: 'preview' });
    expect(job.status).toBe('pending');
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
