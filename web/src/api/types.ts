/**
 * The API's JSON shapes (camelCase, times in epoch seconds), as api/schemas.py defines them.
 *
 * The string unions below are the enums of the API's OpenAPI document (singer_tasks/jobs/model.py);
 * tests/api/test_openapi_types.py fails when they differ.
 */

export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
/** Every stage a job document holds, in render order. */
export type JobStage = 'queued' | 'download' | 'parse' | 'phrases' | 'done';
export type RenderType = 'preview' | 'final';
/** voice: the voice's own phrasing and pitch; score: the notes as written. */
export type Expression = 'voice' | 'score';
export type Language = 'en' | 'zh';

export const JOB_STATUSES: readonly JobStatus[] = ['pending', 'processing', 'completed', 'failed', 'cancelled'];
export const JOB_STAGES: readonly JobStage[] = ['queued', 'download', 'parse', 'phrases', 'done'];

/** A render job as its owner sees it. */
export interface Job {
  id: string;
  status: JobStatus;
  renderType: RenderType;
  voice: string;
  speaker?: string | null;
  expression?: Expression | null;
  language: string | null;
  progress: JobProgress;
  error: { code: string; message: string } | null;
  credits: { reserved: number; charged: number; refunded: number };
  attempts: number;
  durationSeconds?: number | null;
  createdAt: number;
  updatedAt: number;
  startedAt?: number | null;
  finishedAt?: number | null;
  /** The song's name (default: the score's title). */
  title?: string;
  scoreId?: string;
  /** The user's own file name of the score. */
  filename?: string;
  keyShift?: number;
  tempoFactor?: number;
  verse?: string | null;
  part?: string | null;
  /** The active share link, if any. */
  share?: Share | null;
}

/** Where a job is; done/total count phrases while they render (the fraction is done/total then). */
export interface JobProgress {
  stage: JobStage;
  fraction: number;
  done?: number | null;
  total?: number | null;
  etaSeconds?: number | null;
}

/** A read-only link to one song (POST /v1/jobs/{id}/share). `url` is the SPA path /s/{token}. */
export interface Share {
  token: string;
  url: string;
  expiresAt: number;
}

/** What anyone holding a share token sees (GET /v1/shared/{token}, no sign-in). */
export interface SharedSong {
  title: string;
  voice: string;
  durationSeconds: number | null;
  listenUrl: string | null;
  listenType: string | null;
  /** The WAV. */
  url: string;
  display: string | null;
  expiresAt: number;
}

/** One change of the caller's credits (GET /v1/me/credits). */
export interface LedgerEntry {
  id: string;
  kind: 'reserve' | 'charge' | 'release' | 'refund' | 'grant' | 'refill';
  amount: number;
  balanceAfter: number;
  reservedAfter: number;
  seq: number;
  jobId: string | null;
  reason: string | null;
  actor: string;
  at: number;
}

export interface CreditsPage {
  balance: number;
  reserved: number;
  available: number;
  plan: string;
  entries: LedgerEntry[];
  nextBefore: number | null;
}

/** One page of jobs, newest first. */
export interface JobPage {
  jobs: Job[];
  nextBefore: number | null;
}

/** The caller's account. */
export interface Me {
  uid: string;
  balance: number;
  reserved: number;
  available: number;
  inFlight: number;
  plan: string;
  costs: Record<RenderType, number>;
}

/** A stored score. */
export interface Upload {
  scoreId: string;
  filename: string;
  size: number;
  /** The score's title (else the file name without extension). */
  title?: string;
  /** Verse labels the lyrics use ([] when none). */
  verses?: string[];
  parts?: ScorePart[];
}

/** A part of a score, and whether it has lyrics to sing. */
export interface ScorePart {
  id: string;
  name: string;
  hasLyrics: boolean;
}

/** Where to PUT a score, with the exact headers the PUT must carry. */
export interface UploadUrl {
  scoreId: string;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  maxBytes: number;
  expiresInS: number;
}

/** Short-lived signed URLs to a completed job's files; all but the WAV only when the job has them. */
export interface OutputUrls {
  /** The WAV (16-bit PCM). */
  url: string;
  /** The same PCM as lossless FLAC. */
  flacUrl?: string | null;
  /** A compressed file to listen to (MP3), and its content type. */
  listenUrl?: string | null;
  listenType?: string | null;
  /** The sung phrases as an openvpi .ds file. */
  dsUrl?: string | null;
  displayUrl: string | null;
  expiresInS: number;
}

/** A render request. */
export interface JobCreate {
  scoreId: string;
  renderType: RenderType;
  voice?: string;
  speaker?: string;
  expression?: Expression;
  language?: Language;
  title?: string;
  /** Semitones, -24..24. */
  keyShift?: number;
  /** 0.25..4; 2 = twice as fast. */
  tempoFactor?: number;
  verse?: string;
  part?: string;
}

/** An installed voice (GET /v1/voices). */
export interface Voice {
  name: string;
  author: string | null;
  description: string | null;
  languages: string[];
  /** A job may name one of them; empty for a single-speaker voice. */
  speakers: string[];
  /** Model stages: with 'duration' or 'pitch' a job may choose its expression. */
  stages: string[];
  licence: string | null;
  /** A path on the API (prefix the API base). */
  portraitUrl: string | null;
  /** A path on the API to a short audio sample of the voice. */
  sampleUrl?: string | null;
  /** False when preview and final render identically (offer one render type). */
  finalDiffers?: boolean;
}

export interface VoiceList {
  voices: Voice[];
}

/** Whether a job with this voice may choose its expression (the voice predicts durations or pitch). */
export function hasExpression(voice: Pick<Voice, 'stages'>): boolean {
  return voice.stages.includes('duration') || voice.stages.includes('pitch');
}

/** One finished phrase of a job in flight (GET /v1/jobs/{id}/phrases): a 16-bit mono WAV. */
export interface ReadyPhrase {
  index: number;
  /** Where it starts on the song's timeline: a whole number of samples / sampleRate. */
  offsetSeconds: number;
  durationSeconds: number;
  sampleRate: number;
  /** Short-lived signed URL to the WAV. */
  url: string;
  /** Where the next phrase starts (null for the last). */
  nextOffsetSeconds: number | null;
}

/** The finished phrases of a job, to play while the rest renders. */
export interface PhraseList {
  /** How many phrases the job has (0 until its score is split). */
  total: number;
  ready: ReadyPhrase[];
  /** The song's display data, for the piano roll before the job completes. */
  displayUrl: string | null;
  expiresInS: number;
}

/** The song as sung: what the result view draws (seconds, MIDI pitch, Hz). */
export interface Display {
  duration: number;
  notes: { onset: number; duration: number; pitch: number; lyric: string | null }[];
  phonemes: { start: number; duration: number; phoneme: string }[];
  f0: [number, number][];
  /** Where each bar starts (s) and its number as printed; absent in display data from older renders. */
  bars?: { start: number; number: string | number }[];
}

/** A local sign-in token. */
export interface Token {
  token: string;
  uid: string;
  expiresAt: number;
}

export const TERMINAL: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** True once a job can change no more. */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.includes(status);
}
