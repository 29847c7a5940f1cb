/**
 * The settings of one render, shared by a new song and a re-render from a song row: voice (speaker,
 * expression), lyrics language, render type (only the types that differ for the voice), key shift,
 * tempo, and the verse and part of the score.
 */
import type { Job, JobCreate, Language, RenderType, ScorePart, Upload, Voice } from '../api/types';
import { plural } from '../lib/jobs';
import { defaultChoice, initialChoice, VoicePicker, type VoiceChoice } from './VoicePicker';

export interface RenderSettings {
  /** Null while the voices load (or when they could not be listed: the API's default voice sings). */
  choice: VoiceChoice | null;
  language: '' | Language;
  renderType: RenderType;
  keyShift: number;
  tempoFactor: number;
  /** '' = the score's default. */
  verse: string;
  part: string;
}

export const KEY_SHIFT_LIMIT = 24;
export const TEMPO_MIN = 0.25;
export const TEMPO_MAX = 4;

export function defaultSettings(voices: readonly Voice[] | null): RenderSettings {
  return {
    choice: voices ? initialChoice(voices) : null,
    language: '',
    renderType: 'preview',
    keyShift: 0,
    tempoFactor: 1,
    verse: '',
    part: '',
  };
}

/** The settings a job was made with, to re-render it with changes. */
export function settingsOf(job: Job, voices: readonly Voice[] | null): RenderSettings {
  const voice = voices?.find((v) => v.name === job.voice);
  let choice: VoiceChoice | null = voice ? defaultChoice(voice) : voices ? initialChoice(voices) : null;
  if (choice && voice) {
    if (job.speaker) choice = { ...choice, speaker: job.speaker };
    if (job.expression) choice = { ...choice, expression: job.expression };
  }
  return {
    choice,
    language: job.language === 'en' || job.language === 'zh' ? job.language : '',
    renderType: job.renderType,
    keyShift: job.keyShift ?? 0,
    tempoFactor: job.tempoFactor ?? 1,
    verse: job.verse ?? '',
    part: job.part ?? '',
  };
}

/** Whether a voice renders differently as final than as preview (unknown: assume it does). */
export function finalDiffers(voice: Voice | undefined): boolean {
  return voice?.finalDiffers !== false;
}

/** The render types worth offering for a voice: one when final would only cost more. */
export function offeredTypes(voice: Voice | undefined): RenderType[] {
  return finalDiffers(voice) ? ['preview', 'final'] : ['preview'];
}

/** Why a settings value cannot be sent, in words; null when they can. */
export function checkSettings(s: Pick<RenderSettings, 'keyShift' | 'tempoFactor'>): string | null {
  if (!Number.isInteger(s.keyShift) || Math.abs(s.keyShift) > KEY_SHIFT_LIMIT) {
    return `The key shift is a whole number of semitones from −${KEY_SHIFT_LIMIT} to ${KEY_SHIFT_LIMIT}.`;
  }
  if (!Number.isFinite(s.tempoFactor) || s.tempoFactor < TEMPO_MIN || s.tempoFactor > TEMPO_MAX) {
    return `The tempo is a factor from ${TEMPO_MIN} to ${TEMPO_MAX} (1 = as written, 2 = twice as fast).`;
  }
  return null;
}

/** The job request for these settings; defaults are left out so an older API accepts it too. */
export function toJobCreate(s: RenderSettings, scoreId: string, title?: string): JobCreate {
  const body: JobCreate = { scoreId, renderType: s.renderType, ...(s.choice ?? {}) };
  if (s.language) body.language = s.language;
  if (title?.trim()) body.title = title.trim();
  if (s.keyShift) body.keyShift = s.keyShift;
  if (Math.abs(s.tempoFactor - 1) > 1e-9) body.tempoFactor = s.tempoFactor;
  if (s.verse) body.verse = s.verse;
  if (s.part) body.part = s.part;
  return body;
}

interface Props {
  voices: readonly Voice[] | null;
  voicesProblem: string | null;
  /** The score's verses and parts, when known. */
  upload: Pick<Upload, 'verses' | 'parts'> | null;
  settings: RenderSettings;
  onChange(settings: RenderSettings): void;
  resolve(path: string): string;
  /** What each render type holds at most, when known. */
  costs?: Record<RenderType, number> | undefined;
  disabled?: boolean;
  idPrefix?: string;
  compact?: boolean;
}

function partLabel(part: ScorePart): string {
  return `${part.name || part.id}${part.hasLyrics ? '' : ' (no lyrics)'}`;
}

export function RenderOptions({
  voices,
  voicesProblem,
  upload,
  settings,
  onChange,
  resolve,
  costs,
  disabled = false,
  idPrefix = '',
  compact = false,
}: Props) {
  const id = (name: string) => `${idPrefix}${name}`;
  const set = (patch: Partial<RenderSettings>) => onChange({ ...settings, ...patch });
  const voice = voices?.find((v) => v.name === settings.choice?.voice);
  const types = offeredTypes(voice);
  const verses = upload?.verses ?? [];
  const parts = upload?.parts ?? [];
  const pickVoice = (choice: VoiceChoice) => {
    const picked = voices?.find((v) => v.name === choice.voice);
    // A voice whose final is no different gets the one type it offers.
    onChange({ ...settings, choice, renderType: offeredTypes(picked).includes(settings.renderType) ? settings.renderType : 'preview' });
  };
  return (
    <div className="options">
      {voices && settings.choice ? (
        <VoicePicker
          voices={voices}
          choice={settings.choice}
          onChange={pickVoice}
          resolve={resolve}
          disabled={disabled}
          idPrefix={idPrefix}
          compact={compact}
        />
      ) : (
        <div className="field">
          <label htmlFor={id('voice')}>Voice</label>
          <select id={id('voice')} disabled>
            <option>{voicesProblem ? 'The default voice' : 'Loading voices…'}</option>
          </select>
          {voicesProblem && <p className="hint">The voices could not be listed: {voicesProblem}</p>}
        </div>
      )}
      <div className="option-group">
        <div className="field">
          <label htmlFor={id('language')}>Lyrics language</label>
          <select
            id={id('language')}
            value={settings.language}
            disabled={disabled}
            onChange={(e) => set({ language: e.target.value as '' | Language })}
          >
            <option value="">Detect</option>
            <option value="en">English</option>
            <option value="zh">Mandarin</option>
          </select>
        </div>
        {verses.length > 1 && (
          <div className="field">
            <label htmlFor={id('verse')}>Verse</label>
            <select id={id('verse')} value={settings.verse} disabled={disabled} onChange={(e) => set({ verse: e.target.value })}>
              <option value="">Verse {verses[0]} (the first)</option>
              {verses.slice(1).map((v) => (
                <option key={v} value={v}>
                  Verse {v}
                </option>
              ))}
            </select>
          </div>
        )}
        {parts.length > 1 && (
          <div className="field">
            <label htmlFor={id('part')}>Part to sing</label>
            <select id={id('part')} value={settings.part} disabled={disabled} onChange={(e) => set({ part: e.target.value })}>
              <option value="">The first part with lyrics</option>
              {parts.map((p) => (
                <option key={p.id} value={p.id}>
                  {partLabel(p)}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor={id('keyShift')}>Key shift (semitones)</label>
          <input
            id={id('keyShift')}
            type="number"
            inputMode="numeric"
            min={-KEY_SHIFT_LIMIT}
            max={KEY_SHIFT_LIMIT}
            step={1}
            value={settings.keyShift}
            disabled={disabled}
            aria-describedby={id('keyShift-hint')}
            onChange={(e) => set({ keyShift: e.target.value === '' ? 0 : Number(e.target.value) })}
          />
          <span id={id('keyShift-hint')} className="hint small">
            {settings.keyShift === 0
              ? 'As written'
              : `${plural(Math.abs(settings.keyShift), 'semitone')} ${settings.keyShift > 0 ? 'higher' : 'lower'}`}
          </span>
        </div>
        <div className="field">
          <label htmlFor={id('tempo')}>Tempo (× speed)</label>
          <input
            id={id('tempo')}
            type="number"
            inputMode="decimal"
            min={TEMPO_MIN}
            max={TEMPO_MAX}
            step={0.05}
            value={settings.tempoFactor}
            disabled={disabled}
            aria-describedby={id('tempo-hint')}
            onChange={(e) => set({ tempoFactor: e.target.value === '' ? 1 : Number(e.target.value) })}
          />
          <span id={id('tempo-hint')} className="hint small">
            {settings.tempoFactor === 1 ? 'As written' : settings.tempoFactor > 1 ? 'Faster' : 'Slower'}
          </span>
        </div>
      </div>
      <RenderTypeChoice
        types={types}
        value={settings.renderType}
        onChange={(renderType) => set({ renderType })}
        costs={costs}
        disabled={disabled}
        name={id('renderType')}
      />
    </div>
  );
}

/** Preview or final, when the voice sings them differently; one line on what final buys. */
function RenderTypeChoice({
  types,
  value,
  onChange,
  costs,
  disabled,
  name,
}: {
  types: RenderType[];
  value: RenderType;
  onChange(t: RenderType): void;
  costs?: Record<RenderType, number> | undefined;
  disabled: boolean;
  name: string;
}) {
  if (types.length === 1) {
    return (
      <p className="field hint render-one" data-render-types="preview">
        This voice sings the same in preview and final, so there is one render type.
      </p>
    );
  }
  const cost = (t: RenderType) => (costs ? ` · holds up to ${plural(costs[t], 'credit')}` : '');
  return (
    <fieldset className="field" data-render-types={types.join(' ')}>
      <legend>Render</legend>
      {types.map((t) => (
        <label key={t} className="radio">
          <input type="radio" name={name} value={t} checked={value === t} disabled={disabled} onChange={() => onChange(t)} />
          {t === 'preview' ? 'Preview (fast, cheaper)' : 'Final (best quality)'}
          <span className="muted small">{cost(t)}</span>
        </label>
      ))}
      <p className="hint small">Final runs the voice’s full diffusion instead of a few quick steps: cleaner breaths and consonants, slower, and it costs more.</p>
    </fieldset>
  );
}
