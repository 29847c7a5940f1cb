/**
 * The voice menu, from the API's installed voices (GET /v1/voices): the voice, its speaker when it has
 * several, and the expression (the voice's own or the score's) when it predicts durations or pitch.
 * Shows who made the voice, its licence and its portrait.
 */
import { useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import { hasExpression, type Expression, type Voice } from '../api/types';

/** What the person chose; the fields a job creation sends. */
export interface VoiceChoice {
  voice: string;
  speaker?: string;
  expression?: Expression;
}

/** The installed voices, loaded once per client. */
export function useVoices(client: ApiClient): { voices: Voice[] | null; problem: string | null } {
  const [voices, setVoices] = useState<Voice[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    client.voices().then(
      (list) => {
        if (!current) return;
        setVoices(list.voices);
        setProblem(null);
      },
      (e: unknown) => current && setProblem(describeError(e)),
    );
    return () => {
      current = false;
    };
  }, [client]);
  return { voices, problem };
}

/** The choice for `voice` with its defaults: its first speaker (if it has several), its own expression. */
export function defaultChoice(voice: Voice): VoiceChoice {
  const choice: VoiceChoice = { voice: voice.name };
  if (voice.speakers.length > 1 && voice.speakers[0]) choice.speaker = voice.speakers[0];
  if (hasExpression(voice)) choice.expression = 'voice';
  return choice;
}

/** The choice to start with: `preferred` if installed, else the first voice; null without voices. */
export function initialChoice(voices: readonly Voice[], preferred = 'builtin'): VoiceChoice | null {
  const voice = voices.find((v) => v.name === preferred) ?? voices[0];
  return voice ? defaultChoice(voice) : null;
}

interface Props {
  voices: readonly Voice[];
  choice: VoiceChoice;
  onChange(choice: VoiceChoice): void;
  /** An absolute URL for an API path (the portrait, the sample). */
  resolve(path: string): string;
  disabled?: boolean;
  /** Prefix of the element ids, so several pickers can share a page. */
  idPrefix?: string;
  /** A menu instead of the cards (re-rendering from a song row, where space is short). */
  compact?: boolean;
}

const LANGUAGE_NAMES: Record<string, string> = { en: 'English', zh: 'Mandarin', ja: 'Japanese' };

/** "English, Mandarin" for ["en", "zh"]. */
export function languageNames(languages: readonly string[]): string {
  return languages.map((l) => LANGUAGE_NAMES[l] ?? l).join(', ');
}

export function VoicePicker({ voices, choice, onChange, resolve, disabled = false, idPrefix = '', compact = false }: Props) {
  const voice = voices.find((v) => v.name === choice.voice);
  const id = (name: string) => `${idPrefix}${name}`;
  const pickVoice = (name: string) => {
    const picked = voices.find((v) => v.name === name);
    if (picked) onChange(defaultChoice(picked));
  };
  return (
    <div className="voice-picker" data-voice={choice.voice}>
      {compact ? (
        <div className="field">
          <label htmlFor={id('voice')}>Voice</label>
          <select id={id('voice')} value={choice.voice} disabled={disabled} onChange={(e) => pickVoice(e.target.value)}>
            {voices.map((v) => (
              <option key={v.name} value={v.name}>
                {v.name}
                {v.languages.length ? ` (${languageNames(v.languages)})` : ''}
              </option>
            ))}
          </select>
        </div>
      ) : (
        <fieldset className="field voices">
          <legend>Voice</legend>
          {voices.map((v) => (
            <VoiceOption
              key={v.name}
              voice={v}
              name={id('voice')}
              checked={v.name === choice.voice}
              disabled={disabled}
              onPick={() => pickVoice(v.name)}
              resolve={resolve}
            />
          ))}
        </fieldset>
      )}
      {voice && voice.speakers.length > 1 && (
        <div className="field">
          <label htmlFor={id('speaker')}>Speaker</label>
          <select
            id={id('speaker')}
            value={choice.speaker ?? voice.speakers[0]}
            disabled={disabled}
            onChange={(e) => onChange({ ...choice, speaker: e.target.value })}
          >
            {voice.speakers.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      )}
      {voice && hasExpression(voice) && (
        <fieldset className="field">
          <legend>Expression</legend>
          {(['voice', 'score'] as const).map((e) => (
            <label key={e} className="radio">
              <input
                type="radio"
                name={id('expression')}
                value={e}
                checked={(choice.expression ?? 'voice') === e}
                disabled={disabled}
                onChange={() => onChange({ ...choice, expression: e })}
              />
              {e === 'voice' ? 'The voice’s own phrasing and pitch' : 'The notes exactly as written'}
            </label>
          ))}
        </fieldset>
      )}
      {voice && !compact && <VoiceCard voice={voice} resolve={resolve} />}
    </div>
  );
}

/** One voice to choose: its portrait, name, languages and a short sample to hear before choosing. */
function VoiceOption({
  voice,
  name,
  checked,
  disabled,
  onPick,
  resolve,
}: {
  voice: Voice;
  name: string;
  checked: boolean;
  disabled: boolean;
  onPick(): void;
  resolve(path: string): string;
}) {
  const inputId = `${name}-${voice.name}`;
  return (
    <div className={`voice-option${checked ? ' checked' : ''}`} data-voice-option={voice.name}>
      <input type="radio" id={inputId} name={name} value={voice.name} checked={checked} disabled={disabled} onChange={onPick} />
      <label htmlFor={inputId}>
        {voice.portraitUrl ? (
          <img className="portrait" src={resolve(voice.portraitUrl)} alt="" width={40} height={40} loading="lazy" />
        ) : (
          <span className="portrait placeholder" aria-hidden="true">
            {voice.name.slice(0, 1).toUpperCase()}
          </span>
        )}
        <span>
          <span className="voice-name">{voice.name}</span>
          <span className="muted voice-languages">{voice.languages.length ? languageNames(voice.languages) : 'Any language'}</span>
        </span>
      </label>
      {voice.sampleUrl && <SampleButton name={voice.name} url={resolve(voice.sampleUrl)} />}
    </div>
  );
}

const SAMPLE_WAIT_S = 90;

/**
 * Fetches a voice's sample: the API answers 202 with Retry-After while it renders it for the first
 * time, then redirects to the audio. Resolves to a URL the <audio> element can play.
 */
export async function fetchSample(url: string, wait = (s: number) => new Promise((r) => setTimeout(r, s * 1000))): Promise<string> {
  const deadline = Date.now() + SAMPLE_WAIT_S * 1000;
  for (;;) {
    let response: Response;
    try {
      response = await fetch(url);
    } catch {
      // The audio lives on another origin without CORS: let the element follow the redirect itself.
      return url;
    }
    if (response.status === 202 && Date.now() < deadline) {
      await wait(Math.min(Math.max(Number(response.headers.get('Retry-After')) || 2, 1), 10));
      continue;
    }
    if (!response.ok || response.status === 202) throw new Error(`the sample is not available (${response.status})`);
    return URL.createObjectURL(await response.blob());
  }
}

/** Plays (and pauses) a short sample of a voice, waiting while the API renders it the first time. */
function SampleButton({ name, url }: { name: string; url: string }) {
  const audio = useRef<HTMLAudioElement>(null);
  const [state, setState] = useState<'idle' | 'loading' | 'playing' | 'failed'>('idle');
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => () => void (src?.startsWith('blob:') && URL.revokeObjectURL(src)), [src]);
  const toggle = async () => {
    const element = audio.current;
    if (!element) return;
    if (state === 'playing') {
      element.pause();
      return;
    }
    let playable = src;
    try {
      if (!playable) {
        setState('loading');
        playable = await fetchSample(url);
        setSrc(playable);
        element.src = playable;
      }
      await element.play();
    } catch {
      // Loaded but not allowed to start (the click was too long ago while it rendered): press again.
      setState(playable ? 'idle' : 'failed');
    }
  };
  const label = { idle: 'Sample', loading: 'Loading…', playing: 'Pause', failed: 'No sample' }[state];
  return (
    <>
      <button
        type="button"
        className="secondary sample"
        onClick={() => void toggle()}
        disabled={state === 'loading' || state === 'failed'}
        aria-label={`${state === 'playing' ? 'Pause' : 'Play'} a sample of ${name}`}
        data-sample-state={state}
      >
        <span aria-hidden="true">{state === 'playing' ? '❚❚ ' : '▶ '}</span>
        {label}
      </button>
      <audio
        ref={audio}
        preload="none"
        onPlay={() => setState('playing')}
        onPause={() => setState('idle')}
        onEnded={() => setState('idle')}
        data-sample-of={name}
        aria-label={`Sample of ${name}`}
      />
    </>
  );
}

/** Who made the voice, what it is, its licence and its portrait. */
export function VoiceCard({ voice, resolve }: { voice: Voice; resolve(path: string): string }) {
  return (
    <div className="voice-card">
      {voice.portraitUrl && (
        <img className="portrait" src={resolve(voice.portraitUrl)} alt={`Portrait of ${voice.name}`} width={64} height={64} />
      )}
      <div>
        {voice.description && <p>{voice.description}</p>}
        {voice.author && <p className="muted">By {voice.author}</p>}
        {voice.licence && voice.licence.length <= 80 && <p className="muted licence">Licence: {voice.licence}</p>}
        {voice.licence && voice.licence.length > 80 && (
          <details className="licence">
            <summary>Licence</summary>
            <p>{voice.licence}</p>
          </details>
        )}
      </div>
    </div>
  );
}
