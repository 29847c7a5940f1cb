/**
 * Plays a job while it renders: polls GET /v1/jobs/{id}/phrases, fetches each finished phrase's WAV,
 * stitches them as the server assembles the final WAV (lib/stitch.ts) and schedules every stretch that
 * is final on a Web Audio clock at its offset: gapless, sample-exact (the context runs at the voice's
 * rate). When playback catches up with what is rendered, the context is suspended (its clock stops,
 * so the schedule stays right) and resumed when the next stretch arrives.
 *
 * What was scheduled is kept on `window.__singerPlayback[jobId]` (chunks and when playback started),
 * which the browser test renders offline to compare with the final WAV.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client';
import type { Display, Job, PhraseList } from '../api/types';
import { isRendering } from '../lib/jobs';
import { decodePcm16, startSample, Stitcher, type Chunk } from '../lib/stitch';

export type PlaybackState = 'idle' | 'waiting' | 'playing' | 'buffering' | 'ended' | 'blocked';

/** What a scheduled run played: the chunks at their sample offsets, and what was ready when it began. */
export interface PlaybackLog {
  sampleRate: number;
  chunks: Chunk[];
  startedWith: { ready: number; total: number; status: Job['status'] } | null;
}

export interface ProgressivePlayback {
  state: PlaybackState;
  total: number;
  /** Indexes of the phrases fetched so far. */
  ready: number[];
  /** [start, end) seconds of each fetched phrase, for the piano roll. */
  spans: { index: number; start: number; end: number }[];
  display: Display | null;
  /** Seconds of song played (for a cursor); read it on animation frames. */
  position: () => number;
  play: () => void;
  stop: () => void;
}

const POLL_MS = 1000;
const LEAD_S = 0.15; // scheduling lead: the first chunk starts this long after play
const LOW_WATER_S = 0.3; // suspend this long before the scheduled audio runs out
const WATCH_MS = 100;

declare global {
  interface Window {
    __singerPlayback?: Record<string, PlaybackLog>;
  }
}

function logFor(jobId: string, sampleRate: number): PlaybackLog {
  const all = (window.__singerPlayback ??= {});
  const log: PlaybackLog = { sampleRate, chunks: [], startedWith: null };
  all[jobId] = log;
  return log;
}

/** Progressive playback of `job` (null: nothing); `autoplay` starts it as soon as the first phrases are ready. */
export function useProgressivePlayback(client: ApiClient, job: Job | null, autoplay: boolean): ProgressivePlayback {
  const [state, setState] = useState<PlaybackState>('idle');
  const [total, setTotal] = useState(0);
  const [ready, setReady] = useState<number[]>([]);
  const [spans, setSpans] = useState<ProgressivePlayback['spans']>([]);
  const [display, setDisplay] = useState<Display | null>(null);
  const jobId = job?.id ?? null;
  const status = job?.status ?? null;
  const statusRef = useRef(status);
  statusRef.current = status;
  // The job seen rendering here: only its phrases are fetched (and the last ones after it completes).
  // Kept as the job's id, not a flag reset per job: a reset in the new-job effect below ran after this
  // effect in the same commit and undid it, so polling stopped when the job completed, whatever was
  // still missing.
  const [followedJob, setFollowedJob] = useState<string | null>(null);
  const live = isRendering(status);
  useEffect(() => {
    if (live && jobId) setFollowedJob(jobId);
  }, [live, jobId]);

  // Per job: the stitcher, the audio clock and what has been fetched.
  const run = useRef<{
    jobId: string;
    stitcher: Stitcher;
    rate: number;
    fetched: Set<number>;
    ctx: AudioContext | null;
    t0: number;
    scheduledEnd: number; // samples
    wanted: boolean;
    log: PlaybackLog | null;
    stalled: boolean;
  } | null>(null);

  const schedule = useCallback(() => {
    const r = run.current;
    if (!r || !r.wanted || r.rate === 0) return;
    if (!r.ctx) {
      if (r.stitcher.finalUpTo === 0) return; // nothing final yet: wait for the first phrases
      const ctx = new AudioContext({ sampleRate: r.rate });
      r.ctx = ctx;
      // The first chunk starts on a whole sample of the context's clock, a little ahead.
      r.t0 = Math.ceil((ctx.currentTime + LEAD_S) * r.rate) / r.rate;
      r.log = logFor(r.jobId, r.rate);
      r.log.startedWith = { ready: r.stitcher.placedCount, total: r.stitcher.total, status: statusRef.current ?? 'processing' };
      void ctx.resume().then(() => setState(ctx.state === 'running' ? 'playing' : 'blocked'));
      setState(ctx.state === 'running' ? 'playing' : 'blocked');
    }
    const ctx = r.ctx;
    for (let chunk = r.stitcher.take(); chunk; chunk = r.stitcher.take()) {
      const buffer = ctx.createBuffer(1, chunk.samples.length, r.rate);
      buffer.copyToChannel(chunk.samples as Float32Array<ArrayBuffer>, 0);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(ctx.destination);
      const when = r.t0 + chunk.start / r.rate;
      // Late (the clock passed it while it was fetched): play the rest of it now.
      if (when < ctx.currentTime) source.start(ctx.currentTime, ctx.currentTime - when);
      else source.start(when);
      r.log?.chunks.push(chunk);
      r.scheduledEnd = chunk.start + chunk.samples.length;
    }
    if (r.stalled) {
      r.stalled = false;
      void ctx.resume();
      setState('playing');
    }
  }, []);

  // A new job: a fresh run (the previous one's audio stops).
  useEffect(() => {
    setTotal(0);
    setReady([]);
    setSpans([]);
    setDisplay(null);
    setState('idle');
    if (!jobId) return;
    run.current = {
      jobId, stitcher: new Stitcher(0), rate: 0, fetched: new Set(), ctx: null, t0: 0, scheduledEnd: 0,
      wanted: false, log: null, stalled: false,
    };
    return () => {
      closeQuietly(run.current?.ctx);
      run.current = null;
    };
  }, [jobId]);

  // Poll the finished phrases while the job renders (and once more when it completes).
  const active = pollsPhrases(status, followedJob === jobId);
  useEffect(() => {
    if (!jobId || !active) return;
    let stopped = false;
    let displayAsked = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      const r = run.current;
      if (!r || r.jobId !== jobId) return;
      let list: PhraseList;
      try {
        list = await client.phrases(jobId);
      } catch {
        list = { total: r.stitcher.total, ready: [], displayUrl: null, expiresInS: 0 };
      }
      if (stopped) return;
      if (list.total) {
        r.stitcher.total = list.total;
        setTotal(list.total);
      }
      if (list.displayUrl && !displayAsked) {
        displayAsked = true;
        client.display(list.displayUrl).then((d) => !stopped && setDisplay(d), () => undefined);
      }
      for (const phrase of list.ready) {
        if (r.fetched.has(phrase.index)) continue;
        let fetchedWav: { samples: Float32Array; sampleRate: number };
        try {
          const response = await fetch(phrase.url);
          if (!response.ok) break;
          fetchedWav = decodePcm16(await response.arrayBuffer());
        } catch {
          break; // a network error or a cut-off body: the next poll fetches it again
        }
        if (stopped) return;
        if (r.fetched.has(phrase.index)) continue;
        const { samples, sampleRate } = fetchedWav;
        r.fetched.add(phrase.index);
        r.rate = sampleRate;
        const next = phrase.nextOffsetSeconds === null ? null : startSample(phrase.nextOffsetSeconds, sampleRate);
        r.stitcher.add({ index: phrase.index, start: startSample(phrase.offsetSeconds, sampleRate), samples, next });
        const start = startSample(phrase.offsetSeconds, sampleRate) / sampleRate;
        setSpans((s) => [...s, { index: phrase.index, start, end: start + samples.length / sampleRate }]);
        setReady((s) => [...s, phrase.index].sort((a, b) => a - b));
        schedule();
      }
      // Keep polling while phrases are missing, the completed job's last ones included.
      if (!stopped && keepPolling(r.fetched.size, r.stitcher.total, statusRef.current)) {
        timer = setTimeout(() => void poll(), POLL_MS);
      }
    };
    void poll();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    };
  }, [client, jobId, active, schedule]);

  // Autoplay: start as soon as there is something final to play.
  useEffect(() => {
    if (autoplay && run.current && !run.current.wanted && status !== 'completed') {
      run.current.wanted = true;
      setState('waiting');
      schedule();
    }
  }, [autoplay, jobId, status, schedule]);

  // Buffering: stop the clock just before the scheduled audio runs out; the end: release the context.
  useEffect(() => {
    const watch = setInterval(() => {
      const r = run.current;
      const ctx = r?.ctx;
      if (!r || !ctx || ctx.state === 'closed') return;
      const horizon = r.t0 + r.scheduledEnd / r.rate;
      if (r.stitcher.complete) {
        if (ctx.currentTime >= horizon) {
          setState('ended');
          closeQuietly(ctx);
        }
      } else if (ctx.state === 'running' && !r.stalled && ctx.currentTime > horizon - LOW_WATER_S) {
        r.stalled = true;
        void ctx.suspend();
        setState('buffering');
      }
    }, WATCH_MS);
    return () => clearInterval(watch);
  }, []);

  const play = useCallback(() => {
    const r = run.current;
    if (!r) return;
    if (r.ctx && r.ctx.state === 'suspended' && !r.stalled) {
      void r.ctx.resume().then(() => setState('playing'));
      return;
    }
    if (r.ctx?.state === 'closed') {
      r.ctx = null; // played to the end: from the beginning again
      r.stitcher.rewind();
      r.scheduledEnd = 0;
    }
    r.wanted = true;
    setState('waiting');
    schedule();
  }, [schedule]);

  const stop = useCallback(() => {
    const r = run.current;
    if (!r) return;
    r.wanted = false;
    closeQuietly(r.ctx);
    r.ctx = null;
    // A later play starts from the beginning: the stitcher hands out everything again.
    r.stitcher.rewind();
    r.scheduledEnd = 0;
    r.stalled = false;
    setState('idle');
  }, []);

  // A job that failed or was cancelled will send no more phrases: stop rather than wait for them.
  useEffect(() => {
    if (status === 'failed' || status === 'cancelled') stop();
  }, [status, stop]);

  const position = useCallback(() => {
    const r = run.current;
    if (!r?.ctx || r.ctx.state === 'closed') return 0;
    return Math.max(0, r.ctx.currentTime - r.t0);
  }, []);

  return { state, total, ready, spans, display, position, play, stop };
}

/** Whether to poll a job's phrases: while it renders, and after it completes if it was followed while
 * rendering (a job that completed before the page saw it plays its final WAV instead). */
export function pollsPhrases(status: Job['status'] | null, followed: boolean): boolean {
  return isRendering(status) || (followed && status === 'completed');
}

/** Whether another poll is needed after one that left `fetched` of `total` phrases fetched. */
export function keepPolling(fetched: number, total: number, status: Job['status'] | null): boolean {
  const all = total > 0 && fetched >= total;
  return !all && status !== 'failed' && status !== 'cancelled';
}

/** Close an audio context once: the end of playback, Stop and unmounting may each try, and closing a
 * closed (or closing) context rejects, which the page would log as an uncaught error. */
function closeQuietly(ctx: AudioContext | null | undefined): void {
  if (ctx && ctx.state !== 'closed') ctx.close().catch(() => undefined);
}
