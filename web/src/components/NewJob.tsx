/** Upload a score, choose voice, language and render type, see what it costs, create the job. */
import { useState, type FormEvent } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job, JobCreate, Language, Me, RenderType } from '../api/types';
import { checkScoreName, DropZone } from './DropZone';

interface Props {
  client: ApiClient;
  me: Me | null;
  voices: string[];
  /** Production uploads go straight to storage with a signed URL; the local stack takes multipart. */
  signedUpload: boolean;
  onCreated(job: Job): void;
}

export function NewJob({ client, me, voices, signedUpload, onCreated }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [voice, setVoice] = useState(voices[0] ?? 'builtin');
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
      const body: JobCreate = { scoreId: upload.scoreId, renderType, voice };
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
        <div className="field">
          <label htmlFor="voice">Voice</label>
          <select id="voice" value={voice} onChange={(e) => setVoice(e.target.value)}>
            {voices.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </div>
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
