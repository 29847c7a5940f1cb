/**
 * The song library end to end on the embedded stack, as a musician uses it on a desktop and a phone:
 * songs named and described, played from their row, renamed, re-rendered with a key shift (the
 * output's pitch is measured), retried, shared (the link opened in a fresh browser without signing
 * in, then refused after revoking), deleted; render types per voice, verses and parts from the score,
 * one progress figure, a readable piano roll, voice samples, the credit ledger, stray drops caught,
 * keyboard-only paths, no console errors.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditsPage, Display, Job, OutputUrls, Upload, Voice } from '../src/api/types';
import { parseWav } from '../src/lib/wav';
import { chromiumInstalled, launch } from './browser';
import { medianShift } from './pitch';
import { ARTIFACTS, REPO, requireTool, Service, startStack } from './processes';

const SCORES = join(REPO, 'tests', 'singer_tasks', 'fixtures', 'scores');
const TWINKLE = join(SCORES, 'twinkle.musicxml');
const VERSES = join(SCORES, 'two_verses_zh.mxl');
const UID = 'e2e-library';
const KEY_SHIFT = 5;
/** The finished song's view (the progressive player, while a song renders, draws a roll of its own). */
const FINAL = 'section.result .song-view:not([data-testid="progressive"] *)';
const enabled = requireTool(chromiumInstalled(), 'Chromium (/usr/bin/chromium)');

let stack: Service;
let dataDir: string;
let base: string;
let browser: Browser;
let desktop: BrowserContext;
let page: Page;
let songId = '';
let shiftedId = '';
const consoleErrors: string[] = [];

/** A token for UID, as a second local sign-in from node. */
async function token(): Promise<string> {
  const sign = await fetch(`${base}/v1/auth/local`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ uid: UID }),
  });
  return ((await sign.json()) as { token: string }).token;
}

/** Calls the API from node as the same user. */
async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${await token()}`);
  if (typeof init.body === 'string') headers.set('Content-Type', 'application/json');
  const response = await fetch(`${base}${path}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

function watch(p: Page, label: string): void {
  // Chromium's console line for a failed request does not name it: the response does.
  p.on('response', (r) => r.status() >= 400 && consoleErrors.push(`${label}: ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`));
  p.on('console', (m) => m.type() === 'error' && !/^Failed to load resource/.test(m.text()) && consoleErrors.push(`${label}: ${m.text()}`));
  p.on('pageerror', (e) => consoleErrors.push(`${label} page error: ${e.message}`));
}

async function signIn(p: Page): Promise<void> {
  await p.goto(base);
  const field = p.getByLabel('User name');
  // A placeholder shows what to type; nothing is filled in for the person.
  expect(await field.inputValue()).toBe('');
  expect(await field.getAttribute('placeholder')).toBeTruthy();
  await field.fill(UID);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByTestId('balance').waitFor();
}

/** Presses Tab until `selector` has the focus (each step a real key press); fails if it is never reached. */
async function tabTo(p: Page, selector: string): Promise<void> {
  const stops = await p.evaluate(() => document.querySelectorAll('a[href], button, input, select, audio[controls], [tabindex="0"], summary').length);
  for (let i = 0; i <= stops + 5; i++) {
    if (await p.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await p.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The samples and rate of a 16-bit mono WAV. */
function pcm(bytes: ArrayBuffer): [Int16Array, number] {
  const info = parseWav(bytes);
  return [new Int16Array(bytes.slice(info.dataOffset, info.dataOffset + info.dataBytes)), info.sampleRate];
}

async function wavOf(jobId: string): Promise<ArrayBuffer> {
  const { body } = await api<OutputUrls>(`/v1/jobs/${jobId}/output`);
  return (await fetch(body.url)).arrayBuffer();
}

/** Elements sticking out of the viewport's width (the song scrolls in its own box). */
function overflowing(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll<HTMLElement>('body *')]
      .filter((el) => !el.closest('.song') && el.getBoundingClientRect().right > width + 0.5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
  });
}

describe.runIf(enabled)('the song library on the embedded stack', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ({ service: stack, base, dataDir } = await startStack('singer-library'));
    browser = await launch();
    desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await desktop.newPage();
    watch(page, 'desktop');
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in with an empty field that shows a placeholder', async () => {
    await signIn(page);
    expect(await page.getByRole('button', { name: 'Show older songs' }).count()).toBe(0);
  });

  it('shows each voice with its languages and a sample that plays', async () => {
    const { voices } = (await (await fetch(`${base}/v1/voices`)).json()) as { voices: Voice[] };
    const options = page.locator('[data-voice-option]');
    expect(await options.count()).toBe(voices.length);
    for (const voice of voices) {
      const option = page.locator(`[data-voice-option="${voice.name}"]`);
      expect(await option.locator('.voice-languages').textContent()).toBeTruthy();
      if (voice.sampleUrl) {
        // The first request renders the sample (202 meanwhile); the button waits, then plays it.
        const button = option.getByRole('button', { name: `Play a sample of ${voice.name}` });
        const audio = option.locator(`audio[data-sample-of="${voice.name}"]`);
        await button.click();
        await expect
          .poll(
            async () => {
              const state = await option.locator('[data-sample-state]').getAttribute('data-sample-state');
              // Loaded after the click's permission to play lapsed: a second press plays it.
              if (state === 'idle' && (await audio.getAttribute('src'))) await button.click();
              return audio.evaluate((a: HTMLAudioElement) => a.currentTime > 0 || a.ended);
            },
            { timeout: 120_000, interval: 500 },
          )
          .toBe(true);
        expect(await option.locator('[data-sample-state]').getAttribute('data-sample-state')).not.toBe('failed');
      }
    }
  });

  it('catches a file dropped outside the box and several files dropped on it', async () => {
    const url = page.url();
    const drop = async (selector: string, names: string[]) => {
      const dt = await page.evaluateHandle((files) => {
        const t = new DataTransfer();
        for (const name of files) t.items.add(new File(['<score-partwise/>'], name, { type: 'application/xml' }));
        return t;
      }, names);
      await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
      await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
    };
    await drop('#jobs-title', ['a.musicxml']);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/dropped outside the box/);
    expect(page.url()).toBe(url);
    await drop('label.dropzone', ['a.musicxml', 'b.musicxml']);
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/2 files were dropped/);
    // A score over the size limit is refused before any upload.
    await page.locator('input[type=file]').setInputFiles({ name: 'huge.musicxml', mimeType: 'application/xml', buffer: Buffer.alloc(2_100_000, 32) });
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/MB at most/);
  });

  it('lists the verses and parts of the uploaded score and offers only the render types that differ', async () => {
    const answer = page.waitForResponse((r) => r.url().endsWith('/v1/uploads') && r.request().method() === 'POST');
    await page.locator('input[type=file]').setInputFiles(VERSES);
    const upload = (await (await answer).json()) as Upload;
    await page.getByLabel('Song name').waitFor();
    expect(await page.getByLabel('Song name').inputValue()).toBe(upload.title);
    const verses = upload.verses ?? [];
    expect(verses.length).toBeGreaterThan(1);
    const options = await page.locator('#verse option').allTextContents();
    expect(options.length).toBe(verses.length);
    for (const v of verses) expect(options.join('|')).toContain(`Verse ${v}`);
    if ((upload.parts ?? []).length > 1) expect(await page.locator('#part option').count()).toBe((upload.parts ?? []).length + 1);
    const { voices } = (await (await fetch(`${base}/v1/voices`)).json()) as { voices: Voice[] };
    const picked = await page.locator('.voice-picker').getAttribute('data-voice');
    const chosen = voices.find((v) => v.name === picked);
    const offered = (await page.locator('[data-render-types]').getAttribute('data-render-types'))?.split(' ');
    expect(offered).toEqual(chosen?.finalDiffers === false ? ['preview'] : ['preview', 'final']);
  });

  it('renders a song under its name, with one progress figure in the list and the player, then focuses it', async () => {
    await page.locator('input[type=file]').setInputFiles(TWINKLE);
    await page.getByLabel('Song name').fill('Twinkle for the library');
    // Record each pair of progress words and bar value the row and the player show.
    await page.evaluate(() => {
      const seen: { row: string; bar: number | null; player: string | null }[] = [];
      (window as unknown as { progress: typeof seen }).progress = seen;
      new MutationObserver(() => {
        const row = document.querySelector('li.job .job-progress');
        if (!row) return;
        const bar = row.querySelector('progress');
        seen.push({
          row: row.querySelector('span')?.textContent ?? '',
          bar: bar?.hasAttribute('value') ? Number(bar.getAttribute('value')) : null,
          player: document.querySelector('section.result .job-progress span')?.textContent ?? null,
        });
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.getByRole('button', { name: 'Sing it' }).click();
    const row = page.locator('li.job').first();
    await row.waitFor();
    songId = (await row.getAttribute('data-job-id')) ?? '';
    await page.locator(`li.job[data-job-id="${songId}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
    const seen = await page.evaluate(() => (window as unknown as { progress: { row: string; bar: number | null; player: string | null }[] }).progress);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      if (s.player !== null) expect(s.player).toBe(s.row);
      const counted = /(\d+) of (\d+) phrases?/.exec(s.row);
      if (counted) expect(s.bar).toBeCloseTo(Number(counted[1]) / Number(counted[2]), 6);
      const percent = /(\d+)% done/.exec(s.row);
      if (percent) expect(Math.round((s.bar ?? -1) * 100)).toBe(Number(percent[1]));
      if (!counted && !percent) expect(s.bar).toBeNull();
    }
    const job = (await api<Job>(`/v1/jobs/${songId}`)).body;
    expect(job.title).toBe('Twinkle for the library');
    await expect.poll(() => page.locator(`li.job[data-job-id="${songId}"] h3`).textContent()).toBe('Twinkle for the library');
    const meta = (await page.locator(`li.job[data-job-id="${songId}"] .job-meta`).textContent()) ?? '';
    expect(meta).toContain(job.voice);
    expect(meta).toMatch(/\d+ s/);
    expect(meta).toMatch(/Today/);
    // The finished song takes the focus once it can be played.
    await page.locator('section.result audio').waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('result-title');
  });

  it('opens the piano roll at the first note, with a time ruler, zoom, lyrics apart and the keys shown', async () => {
    const roll = page.locator(`${FINAL} svg.roll`);
    await roll.waitFor();
    expect(await page.locator(`${FINAL} .shortcuts`).isVisible()).toBe(true);
    expect(await page.locator(`${FINAL} .shortcuts`).textContent()).toContain('Space');
    expect(await roll.locator('.ruler text').count()).toBeGreaterThan(1);
    const visible = await page.evaluate((final) => {
      const box = document.querySelector(`${final} .song`) as HTMLElement;
      const first = [...box.querySelectorAll<SVGRectElement>('rect.note')].sort((a, b) => a.x.baseVal.value - b.x.baseVal.value)[0];
      const x = first?.x.baseVal.value ?? -1;
      return x >= box.scrollLeft && x <= box.scrollLeft + box.clientWidth;
    }, FINAL);
    expect(visible).toBe(true);
    const overlaps = await page.evaluate((final) => {
      const boxes = [...document.querySelectorAll<SVGTextElement>(`${final} text.lyric`)].map((t) => t.getBBox());
      let count = 0;
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i] as DOMRect;
          const b = boxes[j] as DOMRect;
          if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) count++;
        }
      return count;
    }, FINAL);
    expect(overlaps).toBe(0);
    const width = async () => Number(await roll.getAttribute('width'));
    const before = await width();
    await page.locator(FINAL).getByRole('button', { name: 'Zoom in' }).click();
    expect(await width()).toBeGreaterThan(before);
    // The keyboard zooms too: focus the song, press minus twice.
    await page.locator(`${FINAL} .song`).focus();
    await page.keyboard.press('-');
    await page.keyboard.press('-');
    expect(await width()).toBeLessThan(before);
  });

  it('renames a song with the keyboard only', async () => {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await tabTo(page, `li.job[data-job-id="${songId}"] [data-action="rename"]`);
    await page.keyboard.press('Enter');
    const field = page.locator(`#rename-${songId}`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe(`rename-${songId}`);
    await field.press('ControlOrMeta+a');
    await page.keyboard.type('Twinkle, renamed');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator(`li.job[data-job-id="${songId}"] h3`).textContent()).toBe('Twinkle, renamed');
    expect((await api<Job>(`/v1/jobs/${songId}`)).body.title).toBe('Twinkle, renamed');
    // Focus went back to the button that opened the panel.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Rename');
  });

  it('plays a song from its row', async () => {
    await page.locator(`li.job[data-job-id="${songId}"]`).getByRole('button', { name: /^Play / }).click();
    await page.waitForFunction(() => (document.querySelector<HTMLAudioElement>('section.result audio')?.currentTime ?? 0) > 0.3, null, { timeout: 20_000 });
    await page.locator('section.result audio').evaluate((a: HTMLAudioElement) => a.pause());
  });

  it('re-renders with a key shift from the row, and the output sings that many semitones higher', async () => {
    const row = page.locator(`li.job[data-job-id="${songId}"]`);
    await row.getByRole('button', { name: 'Re-render', exact: true }).click();
    await page.locator(`[id="rr-${songId}-keyShift"]`).fill(String(KEY_SHIFT));
    await row.getByRole('button', { name: 'Render again' }).click();
    await expect.poll(() => page.locator('li.job').count()).toBeGreaterThan(1);
    shiftedId = (await page.locator('li.job').first().getAttribute('data-job-id')) ?? '';
    expect(shiftedId).not.toBe(songId);
    await page.locator(`li.job[data-job-id="${shiftedId}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
    const shifted = (await api<Job>(`/v1/jobs/${shiftedId}`)).body;
    expect(shifted.keyShift).toBe(KEY_SHIFT);
    expect(shifted.title).toBe('Twinkle, renamed');
    expect(await page.locator(`li.job[data-job-id="${shiftedId}"] .job-settings`).textContent()).toContain(`key +${KEY_SHIFT} semitones`);
    const shiftedDisplay = (await (await fetch((await api<OutputUrls>(`/v1/jobs/${shiftedId}/output`)).body.displayUrl ?? '')).json()) as Display;
    const plainDisplay = (await (await fetch((await api<OutputUrls>(`/v1/jobs/${songId}/output`)).body.displayUrl ?? '')).json()) as Display;
    // The notes as sung moved by the shift...
    expect(shiftedDisplay.notes.map((n) => n.pitch - KEY_SHIFT)).toEqual(plainDisplay.notes.map((n) => n.pitch));
    // ...and so did the audio.
    const [plain, plainRate] = pcm(await wavOf(songId));
    const [high, highRate] = pcm(await wavOf(shiftedId));
    const semitones = medianShift(plain, plainRate, high, highRate);
    console.log(`measured key shift: ${semitones.toFixed(2)} semitones (asked ${KEY_SHIFT})`);
    expect(Math.abs(semitones - KEY_SHIFT)).toBeLessThan(0.5);
  });

  it('shares a song: the link plays it in a fresh browser without signing in, and not after revoking', async () => {
    const row = page.locator(`li.job[data-job-id="${songId}"]`);
    await row.getByRole('button', { name: 'Share', exact: true }).click();
    await row.getByRole('button', { name: 'Create link' }).click();
    const link = row.locator('[data-share-url]');
    await link.waitFor();
    const url = (await link.inputValue()) ?? '';
    expect(url).toMatch(new RegExp(`^${base}/s/[A-Za-z0-9_-]+$`));
    const stranger = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const guest = await stranger.newPage();
    watch(guest, 'guest');
    await guest.goto(url);
    await guest.getByRole('heading', { name: 'Twinkle, renamed' }).waitFor();
    expect(await guest.getByLabel('User name').count()).toBe(0);
    await guest.waitForFunction(() => (document.querySelector('audio')?.readyState ?? 0) >= 1);
    const job = (await api<Job>(`/v1/jobs/${songId}`)).body;
    const duration = await guest.locator('audio').evaluate((a: HTMLAudioElement) => a.duration);
    expect(Math.abs(duration - (job.durationSeconds ?? 0))).toBeLessThan(0.1);
    expect(await overflowing(guest)).toEqual([]);
    await guest.screenshot({ path: join(ARTIFACTS, 'shared-phone.png'), fullPage: true });

    await row.getByRole('button', { name: 'Revoke link' }).click();
    await row.getByRole('button', { name: 'Create link' }).waitFor();
    const fresh = await browser.newContext();
    const late = await fresh.newPage();
    // The refused token answers 404 (the browser logs that itself: this page is not watched); the
    // page's own words are checked.
    const refused = late.waitForResponse((r) => r.url().includes('/v1/shared/'));
    await late.goto(url);
    expect((await refused).status()).toBe(404);
    const title = late.locator('#shared-title');
    await title.waitFor();
    expect(await title.textContent()).toBe('Song not available');
    expect(await late.getByRole('alert').textContent()).toMatch(/revoked it, or it expired/);
    await stranger.close();
    await fresh.close();
  });

  it('retries a failed song from its row', async () => {
    const noLyrics = readFileSync(TWINKLE, 'utf8').replace(/<lyric[\s\S]*?<\/lyric>/g, '');
    await page.locator('input[type=file]').setInputFiles({ name: 'silent.musicxml', mimeType: 'application/xml', buffer: Buffer.from(noLyrics) });
    await page.getByRole('button', { name: 'Sing it' }).click();
    const failed = page.locator('li.job[data-status="failed"]').first();
    await failed.waitFor({ timeout: 60_000 });
    const failedId = (await failed.getAttribute('data-job-id')) ?? '';
    const rows = await page.locator('li.job').count();
    await failed.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => page.locator('li.job').count()).toBe(rows + 1);
    const retried = (await page.locator('li.job').first().getAttribute('data-job-id')) ?? '';
    expect(retried).not.toBe(failedId);
    const [a, b] = [(await api<Job>(`/v1/jobs/${failedId}`)).body, (await api<Job>(`/v1/jobs/${retried}`)).body];
    expect(b.scoreId).toBe(a.scoreId);
    await page.locator(`li.job[data-job-id="${retried}"][data-status="failed"]`).waitFor({ timeout: 60_000 });
  });

  it('clears "too many jobs" by itself once the account changes', async () => {
    // The API's answer when a person has too many jobs in flight. The real limit cannot be held
    // still here (a cached render ends in about a second), so this one answer is the API's words
    // played back to the page; what clears it is real: a job started elsewhere changes the account.
    await page.route('**/v1/jobs', (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 429,
            contentType: 'application/json',
            body: JSON.stringify({ detail: 'you have 3 jobs in flight; at most 3 may be at once', code: 'too_many_jobs' }),
          })
        : route.continue(),
    );
    await page.locator('input[type=file]').setInputFiles(TWINKLE);
    await page.getByRole('button', { name: 'Sing it' }).click();
    const alert = page.locator('form [role=alert][data-passing]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Too many jobs/);
    await page.unroute('**/v1/jobs');
    const scoreId = (await api<Job>(`/v1/jobs/${songId}`)).body.scoreId;
    const made = await api<Job>('/v1/jobs', { method: 'POST', body: JSON.stringify({ scoreId, renderType: 'preview' }) });
    expect(made.status).toBe(202);
    await alert.waitFor({ state: 'detached', timeout: 60_000 });
    await page.locator(`li.job[data-job-id="${made.body.id}"]`).waitFor();
  });

  it('shows the credit ledger as the API keeps it', async () => {
    await page.locator('#credits-title').click();
    const rows = page.locator('table.ledger tbody tr');
    await rows.first().waitFor();
    // The page and the API agree (the ledger may still move while a cancelled job settles).
    await expect
      .poll(async () => {
        const { body } = await api<CreditsPage>('/v1/me/credits?limit=20');
        const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-kind')));
        return shown.join(',') === body.entries.map((e) => e.kind).join(',');
      }, { timeout: 30_000 })
      .toBe(true);
    expect(await page.locator('table.ledger tbody tr[data-kind="charge"]').count()).toBeGreaterThan(0);
  });

  it('deletes a song, and the API no longer has it', async () => {
    const row = page.locator(`li.job[data-job-id="${shiftedId}"]`);
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    await row.getByRole('button', { name: 'Delete the song' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await api<Job>(`/v1/jobs/${shiftedId}`)).status).toBe(404);
    await page.screenshot({ path: join(ARTIFACTS, 'library-desktop.png'), fullPage: true });
  });

  describe('on a phone', () => {
    let phone: BrowserContext;
    let small: Page;

    beforeAll(async () => {
      phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      small = await phone.newPage();
      watch(small, 'phone');
    });
    afterAll(() => phone?.close());

    it('keeps the top bar still when the credits arrive', async () => {
      // Hold the balance back to see the bar before and after it arrives.
      let release: () => void = () => undefined;
      const held = new Promise<void>((ok) => (release = ok));
      await small.route('**/v1/me', async (route) => {
        await held;
        await route.continue();
      });
      await small.goto(base);
      await small.getByLabel('User name').fill(UID);
      await small.getByRole('button', { name: 'Sign in' }).click();
      await small.locator('header.topbar').waitFor();
      const before = await small.locator('header.topbar').boundingBox();
      release();
      await small.getByTestId('balance').waitFor();
      const after = await small.locator('header.topbar').boundingBox();
      expect(after?.height).toBe(before?.height);
      await small.unroute('**/v1/me');
    });

    it('fits every row, its actions and panels on the screen', async () => {
      await small.locator(`li.job[data-job-id="${songId}"]`).waitFor();
      const row = small.locator(`li.job[data-job-id="${songId}"]`);
      await row.getByRole('button', { name: 'Re-render', exact: true }).click();
      await small.locator(`[id="rr-${songId}-keyShift"]`).waitFor();
      expect(await overflowing(small)).toEqual([]);
      await row.getByRole('button', { name: 'Share', exact: true }).click();
      expect(await overflowing(small)).toEqual([]);
      await small.screenshot({ path: join(ARTIFACTS, 'library-phone.png'), fullPage: true });
      expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    });

    it('renames and deletes with the keyboard only', async () => {
      const row = small.locator(`li.job[data-job-id="${songId}"]`);
      await row.locator('[data-action="rename"]').focus();
      await small.keyboard.press('Enter');
      await expect.poll(() => small.evaluate(() => document.activeElement?.id)).toBe(`rename-${songId}`);
      await small.keyboard.press('Escape');
      expect(await small.evaluate(() => document.activeElement?.textContent)).toBe('Rename');
      await tabTo(small, `li.job[data-job-id="${songId}"] [data-action="delete"]`);
      await small.keyboard.press('Enter');
      await expect.poll(() => small.evaluate(() => document.activeElement?.textContent)).toBe('Delete the song');
      await small.keyboard.press('Enter');
      await row.waitFor({ state: 'detached' });
      expect((await api<Job>(`/v1/jobs/${songId}`)).status).toBe(404);
    });
  });

  it('downloads all of the account’s data as a zip, then deletes the account', async () => {
    await page.locator('#account-title').click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download my data' }).click()]);
    const zip = readFileSync((await download.path()) ?? '');
    expect(zip.subarray(0, 2).toString()).toBe('PK');
    for (const name of ['jobs.json', 'ledger.json']) expect(zip.includes(Buffer.from(name))).toBe(true);
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    await page.getByLabel(/cannot be undone/).fill(UID);
    await page.getByRole('button', { name: 'Delete everything' }).click();
    await page.getByLabel('User name').waitFor();
    // Signing in again starts a new, empty account.
    expect((await api<{ jobs: Job[] }>('/v1/jobs')).body.jobs).toEqual([]);
  });

  it('logged no console errors', () => {
    // The 429 that the "too many jobs" step plays back on purpose; nothing else.
    expect(consoleErrors.filter((e) => !/: 429 POST \/v1\/jobs$/.test(e))).toEqual([]);
  });
});
