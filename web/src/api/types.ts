/** The API's JSON shapes (camelCase, times in epoch seconds), as api/schemas.py defines them. */

export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
export type RenderType = 'preview' | 'final';
export type Language = 'en' | 'zh';

/** A render job as its owner sees it. */
export interface Job {
  id: string;
  status: JobStatus;
  renderType: RenderType;
  voice: string;
  language: string | null;
  progress: { stage: string; fraction: number };
  error: { code: string; message: string } | null;
  credits: { reserved: number; charged: number; refunded: number };
  attempts: number;
  durationSeconds?: number | null;
  createdAt: number;
  updatedAt: number;
  startedAt?: number | null;
  finishedAt?: number | null;
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

/** Short-lived signed URLs to a completed job's WAV and display data. */
export interface OutputUrls {
  url: string;
  displayUrl: string | null;
  expiresInS: number;
}

/** A render request. */
export interface JobCreate {
  scoreId: string;
  renderType: RenderType;
  voice?: string;
  language?: Language;
}

/** The song as sung: what the result view draws (seconds, MIDI pitch, Hz). */
export interface Display {
  duration: number;
  notes: { onset: number; duration: number; pitch: number; lyric: string | null }[];
  phonemes: { start: number; duration: number; phoneme: string }[];
  f0: [number, number][];
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
