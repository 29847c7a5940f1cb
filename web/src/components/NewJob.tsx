/**
 * Upload a score (read at once: its title, verses and parts come back), name the song, choose the
 * render's settings, see what it costs, create the job.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, type ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job, Me, Upload, Voice } from '../api/types';
import { plural } from '../lib/jobs';
import { DropZone } from './DropZone';
import { checkSettings, defaultSettings, RenderOptions, toJobCreate, type RenderSettings } from './RenderOptions';

interface Props {
  client: ApiClient;
  me: Me | null;
  voices: Voice[] | null;
  voicesProblem: string | null;
  /** Production uploads go straight to storage with a signed URL; the local stack takes multipart. */
  signedUpload: boolean;
  onCreated(job: Job): void;
}

/** An error, and whether it stops applying once the account changes (too many jobs, too few credits). */
interface Problem {
  message: string;
  passing: boolean;
}

function problemOf(e: unknown): Problem {
  return { message: describeError(e), passing: e instanceof ApiError && (e.status === 429 || e.status === 402) };
}

/** The file name without its extension, for a score without a title. */
function baseName(name: string): string {
  return name.replace(/\.(musicxml|xml|mxl)$/i, '');
}

export function NewJob({ client, me, voices, voicesProblem, signedUpload, onCreated }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [upload, setUpload] = useState<Upload | null>(null);
  const [title, setTitle] = useState('');
  const [settings, setSettings] = useState<RenderSettings>(() => defaultSettings(voices));
  useEffect(() => {
    if (voices && settings.choice === null) setSettings((s) => ({ ...s, choice: defaultSettings(voices).choice }));
  }, [voices, settings.choice]);
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  // "Too many jobs" and "not enough credits" stop applying when a job ends: clear them then.
  const accountState = me ? `${me.inFlight}:${me.available}` : '';
  useEffect(() => setProblem((p) => (p?.passing ? null : p)), [accountState]);

  const cost = me?.costs[settings.renderType];
  const short = me !== null && cost !== undefined && me.available < cost;

  const refuse = useCallback((message: string) => setProblem({ message, passing: false }), []);

  const pick = async (picked: File) => {
    setFile(picked);
    setUpload(null);
    setProblem(null);
    setTitle(baseName(picked.name));
    setBusy('Reading the score…');
    try {
      const stored = signedUpload ? await client.uploadSigned(picked) : await client.upload(picked);
      setUpload(stored);
      if (stored.title) setTitle(stored.title);
      setSettings((s) => ({ ...s, verse: '', part: '' }));
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(null);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!upload) {
      refuse('Choose a score first: drop it on the box or click the box.');
      return;
    }
    const invalid = checkSettings(settings);
    if (invalid) {
      refuse(invalid);
      return;
    }
    setProblem(null);
    try {
      setBusy('Starting the render…');
      // Without a voice list (it failed to load) the API's default voice sings.
      onCreated(await client.createJob(toJobCreate(settings, upload.scoreId, title)));
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-job-title">
      <h2 id="new-job-title">Sing a score</h2>
      <DropZone file={file} onFile={(f) => void pick(f)} onRefused={refuse} disabled={busy !== null} />
      {upload && (
        <div className="field song-name">
          <label htmlFor="title">Song name</label>
          <input id="title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} autoComplete="off" />
        </div>
      )}
      <RenderOptions
        voices={voices}
        voicesProblem={voicesProblem}
        upload={upload}
        settings={settings}
        onChange={setSettings}
        resolve={(path) => client.resolve(path)}
        costs={me?.costs}
        disabled={busy !== null}
      />
      <p className="cost" aria-live="polite">
        {me && cost !== undefined ? (
          <>
            Holds up to <strong>{plural(cost, 'credit')}</strong> while it renders; you pay for the song’s real length and
            get the rest back. Available: <strong data-testid="available">{me.available}</strong> of {me.balance}.
          </>
        ) : (
          'Loading your balance…'
        )}
      </p>
      {short && (
        <p className="error" role="status">
          Not enough credits available for a {settings.renderType} render. Try a preview, or wait for running jobs to finish.
        </p>
      )}
      <button type="submit" disabled={busy !== null || !upload || short}>
        {busy ?? 'Sing it'}
      </button>
      {problem && (
        <p role="alert" className="error" data-passing={problem.passing || undefined}>
          {problem.message}
        </p>
      )}
    </form>
  );
}
