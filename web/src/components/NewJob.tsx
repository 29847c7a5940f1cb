/** Upload a score, choose voice, language and render type, see what it costs, create the job. */
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job, JobCreate, Language, Me, RenderType } from '../api/types';
import { checkScoreName, DropZone } from './DropZone';
import { initialChoice, useVoices, VoicePicker, type VoiceChoice } from './VoicePicker';

interface Props {
  client: ApiClient;
  me: Me | null;
  /** Production uploads go straight to storage with a signed URL; the local stack takes multipart. */
  signedUpload: boolean;
  onCreated(job: Job): void;
}

export function NewJob({ client, me, signedUpload, onCreated }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const { voices, problem: voicesProblem } = useVoices(client);
  const [choice, setChoice] = useState<VoiceChoice | null>(null);
  useEffect(() => {
    if (voices && choice === null) setChoice(initialChoice(voices));
  }, [voices, choice]);
  const [language, setLanguage] = useState<'' | Language>('');
  const [renderType, setRenderType] = useState<RenderType>('preview');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const cost = me?.costs[renderType];
  const short = me !== null && cost !== undefined && me.available < cost;

  const pick = (picked: File) => {
    setFile(picked);
    setError(checkScoreName(picked.name));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setError('Choose a score first: drop it on the box or click the box.');
      return;
    }
    setError(null);
    try {
      setBusy('Uploading the score…');
      const upload = signedUpload ? await client.uploadSigned(file) : await client.upload(file);
      setBusy('Creating the job…');
      // Without a voice list (it failed to load) the API's default voice sings.
      const body: JobCreate = { scoreId: upload.scoreId, renderType, ...(choice ?? {}) };
      if (language) body.language = language;
      onCreated(await client.createJob(body));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-job-title">
      <h2 id="new-job-title">Sing a score</h2>
      <DropZone file={file} onFile={pick} disabled={busy !== null} />
      <div className="options">
        {voices && choice ? (
          <VoicePicker
            voices={voices}
            choice={choice}
            onChange={setChoice}
            resolve={(path) => client.resolve(path)}
            disabled={busy !== null}
          />
        ) : (
          <div className="field">
            <label htmlFor="voice">Voice</label>
            <select id="voice" disabled>
              <option>{voicesProblem ? 'The default voice' : 'Loading voices…'}</option>
            </select>
            {voicesProblem && <p className="hint">The voices could not be listed: {voicesProblem}</p>}
          </div>
        )}
        <div className="field">
          <label htmlFor="language">Lyrics language</label>
          <select id="language" value={language} onChange={(e) => setLanguage(e.target.value as '' | Language)}>
            <option value="">Detect</option>
            <option value="en">English</option>
            <option value="zh">Mandarin</option>
          </select>
        </div>
        <fieldset className="field">
          <legend>Render</legend>
          {(['preview', 'final'] as const).map((t) => (
            <label key={t} className="radio">
              <input type="radio" name="renderType" value={t} checked={renderType === t} onChange={() => setRenderType(t)} />
              {t === 'preview' ? 'Preview (fast, cheaper)' : 'Final (best quality)'}
            </label>
          ))}
        </fieldset>
      </div>
      <p className="cost" aria-live="polite">
        {me && cost !== undefined ? (
          <>
            Holds up to <strong>{cost}</strong> credits while it renders; you pay for the song's real length and get
            the rest back. Available: <strong data-testid="available">{me.available}</strong> of {me.balance}.
          </>
        ) : (
          'Loading your balance…'
        )}
      </p>
      {short && (
        <p className="error" role="status">
          Not enough credits available for a {renderType} render. Try a preview, or wait for running jobs to finish.
        </p>
      )}
      <button type="submit" disabled={busy !== null || !file || short}>
        {busy ?? 'Sing it'}
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
