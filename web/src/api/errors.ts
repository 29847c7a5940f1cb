/** Errors in words a person can act on: what went wrong and what to do next. */
import { ApiError, NetworkError } from './client';

/**
 * What a job's error code means for the person who submitted the score: every code of
 * singer_tasks/errors.py a render can store (the OpenAPI document lists them as Problem.code), the
 * render task's own input_missing, and taskkit's when a render kept failing.
 * tests/api/test_openapi_types.py checks that each code of the OpenAPI document is here or in
 * API_ONLY_ERRORS.
 */
export const JOB_ERRORS: Readonly<Record<string, string>> = {
  no_lyrics: 'The score has no lyrics to sing. Add lyrics under the notes of the melody and upload it again.',
  no_notes: 'The score has no notes to sing. Check that the melody part is not empty.',
  unsupported_language:
    'The lyrics are in a language this voice cannot sing. Choose English or Mandarin, or pick the language explicitly.',
  song_too_long: 'The song is longer than a render may be. Shorten the score or split it into parts.',
  parse_time_exceeded: 'The score took too long to read. Simplify it (fewer parts or repeats) or split the song.',
  score_too_large: 'The score is too large. Remove other parts or split the song, then upload it again.',
  score_error: 'The score could not be sung as written. Check the melody and its lyrics, then upload it again.',
  unreadable_score: 'The file could not be read as a MusicXML score. Export it again as .musicxml or .mxl.',
  part_not_found: 'The part to sing was not found in the score. Check the part names.',
  pitch_out_of_range:
    'A note of the melody is pitched beyond what any score can hold. Correct its octave (the message names the bar) and upload it again.',
  unreadable_lyric:
    'A lyric could not be read in its language. Check its spelling, or write it phonetically (pinyin, kana).',
  bad_dictionary: 'The phoneme dictionary for these lyrics is damaged. Try another voice; an operator should fix it.',
  bad_phrase: 'A phrase of the song could not be prepared. Check for extremely short or long notes.',
  voice_not_found: 'The chosen voice is not installed. Choose one of the voices offered.',
  voice_error: 'The chosen voice failed while singing. Try again, or choose another voice.',
  bad_checkpoint: 'The chosen voice is damaged or incomplete. Choose another voice; an operator should reinstall it.',
  voice_lacks_phoneme: 'This voice cannot sing some sounds of these lyrics. Try another voice or language.',
  voice_unavailable: 'The chosen voice is not available right now. Choose another voice or try again later.',
  bad_precision: 'The chosen voice is set up with an unknown precision. Choose another voice; an operator should fix it.',
  bad_render_input: 'The song could not be rendered as written. Check for extremely short or long notes.',
  bad_setting: 'The service is misconfigured. Try again later; an operator has to fix a setting.',
  singer_error: 'The render failed. Try again, or upload the score again.',
  input_missing: 'The uploaded score is no longer stored. Upload it again and create a new job.',
  dead_lettered: 'The render kept failing and was stopped. Try again later; your credits were refunded.',
  max_attempts: 'The render failed several times. Try again later; your credits were refunded.',
};

/** Codes the API answers a request with but a job never stores (the request shows its own detail). */
export const API_ONLY_ERRORS: readonly string[] = [
  'insufficient_credits',
  'too_many_jobs',
  'job_not_found',
  'job_state',
  'job_error',
];

/** A sentence for a failed job; falls back to the worker's own message for codes not listed. */
export function describeJobError(error: { code: string; message: string }): string {
  const known = JOB_ERRORS[error.code];
  if (known) return error.message ? `${known} (${error.message})` : known;
  return error.message || `The render failed (${error.code}). Try again, or upload the score again.`;
}

/** A sentence for an API error status, keeping the API's detail which names the numbers. */
export function describeApiError(status: number, detail: string): string {
  switch (status) {
    case 401:
      return 'Your session has expired. Sign in again.';
    case 402:
      return `Not enough credits: ${detail}.`;
    case 404:
      return `Not found: ${detail}.`;
    case 409:
      return `Not possible now: ${detail}.`;
    case 413:
      return `The file is too large: ${detail}. Remove other parts or split the song.`;
    case 415:
      return `This file is not a score we can read: ${detail}. Export it as .musicxml or .mxl.`;
    case 422:
      return `The request was refused: ${detail}.`;
    case 429:
      return `Too many jobs at once: ${detail}.`;
    default:
      if (status >= 500) return 'The service had a problem. Try again in a minute.';
      return `The request was refused: ${detail}.`;
  }
}

/** A sentence for anything thrown by the client or the auth layer. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return describeApiError(e.status, e.detail);
  if (e instanceof NetworkError) return 'The service cannot be reached. Check your connection and try again.';
  if (e instanceof Error) return e.message;
  return String(e);
}
