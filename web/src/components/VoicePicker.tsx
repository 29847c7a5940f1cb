/**
 * The voice menu, from the API's installed voices (GET /v1/voices): the voice, its speaker when it has
 * several, and the expression (the voice's own or the score's) when it predicts durations or pitch.
 * Shows who made the voice, its licence and its portrait.
 */
import { useEffect, useState } from 'react';
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
  /** An absolute URL for an API path (the portrait). */
  resolve(path: string): string;
  disabled?: boolean;
}

export function VoicePicker({ voices, choice, onChange, resolve, disabled = false }: Props) {
  const voice = voices.find((v) => v.name === choice.voice);
  const pickVoice = (name: string) => {
    const picked = voices.find((v) => v.name === name);
    if (picked) onChange(defaultChoice(picked));
  };
  return (
    <div className="voice-picker" data-voice={choice.voice}>
      <div className="field">
        <label htmlFor="voice">Voice</label>
        <select id="voice" value={choice.voice} disabled={disabled} onChange={(e) => pickVoice(e.target.value)}>
          {voices.map((v) => (
            <option key={v.name} value={v.name}>
              {v.name}
              {v.languages.length ? ` (${v.languages.join(', ')})` : ''}
            </option>
          ))}
        </select>
      </div>
      {voice && voice.speakers.length > 1 && (
        <div className="field">
          <label htmlFor="speaker">Speaker</label>
          <select
            id="speaker"
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
                name="expression"
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
      {voice && <VoiceCard voice={voice} resolve={resolve} />}
    </div>
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
