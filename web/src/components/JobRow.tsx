/**
 * One song of the library: its name, voice, length and date; progress while it renders; and what can
 * be done with it (play, rename, re-render with other settings, retry, share, cancel, delete).
 */
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { ApiClient } from '../api/client';
import { describeError, describeJobError } from '../api/errors';
import { isTerminal, type Job, type Share, type Upload, type Voice } from '../api/types';
import { formatDate, formatSeconds, plural, progressFigure, renderSettings, songTitle } from '../lib/jobs';
import { checkSettings, RenderOptions, settingsOf, toJobCreate, type RenderSettings } from './RenderOptions';

/** What a row can do beyond showing its job (JobList wires these to the API and the workspace). */
export interface RowActions {
  client: ApiClient;
  voices: Voice[] | null;
  voicesProblem: string | null;
  /** Show the song in the player; `play` starts it too. */
  onOpen(id: string, play?: boolean): void;
  onChanged(job: Job): void;
  onCreated(job: Job): void;
  onRemoved(id: string): void;
}

interface Props {
  job: Job;
  selected: boolean;
  /** Absent in static renders (tests): the row then shows its job without actions. */
  actions?: RowActions;
  /** Kept for callers of the earlier row: cancels a job that has not finished. */
  onOpen?(id: string): void;
  onCancel?(id: string): void;
}

export const STATUS_LABEL: Record<Job['status'], string> = {
  pending: 'Waiting',
  processing: 'Rendering',
  completed: 'Ready',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

function Credits({ job }: { job: Job }) {
  const { reserved, charged, refunded } = job.credits;
  if (job.status === 'completed') return <>{plural(charged, 'credit')} charged</>;
  if (isTerminal(job.status)) return <>{plural(refunded, 'credit')} refunded</>;
  return <>{plural(reserved, 'credit')} held</>;
}

/** Phrases done of total with the time left: the same figure the player shows. */
export function ProgressLine({ job, label }: { job: Job; label: string }) {
  const figure = progressFigure(job);
  return (
    <div className="job-progress" data-progress={figure.fraction ?? ''}>
      {figure.fraction === null ? (
        <progress max={1} aria-label={label} />
      ) : (
        <progress max={1} value={figure.fraction} aria-label={label} />
      )}
      <span>
        {figure.text}
        {job.attempts > 1 && ` · attempt ${job.attempts}`}
      </span>
    </div>
  );
}

type Panel = 'rename' | 'rerender' | 'share' | 'delete' | null;

export function JobRow({ job, selected, actions, onOpen, onCancel }: Props) {
  const title = songTitle(job);
  const settings = renderSettings(job);
  const meta = [
    job.voice || 'default voice',
    job.durationSeconds ? formatSeconds(job.durationSeconds) : null,
    formatDate(job.createdAt),
  ].filter(Boolean);
  const [panel, setPanel] = useState<Panel>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const opener = useRef<HTMLButtonElement | null>(null);

  const open = (which: Panel, button: HTMLButtonElement) => {
    opener.current = button;
    setError(null);
    setPanel((current) => (current === which ? null : which));
  };
  const close = () => {
    setPanel(null);
    opener.current?.focus();
  };
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const cancel = () =>
    actions
      ? void run(async () => actions.onChanged(await actions.client.cancel(job.id)))
      : onCancel?.(job.id);
  const retry = () =>
    actions &&
    void run(async () => {
      if (!job.scoreId) throw new Error('This song’s score is not known; upload it again.');
      actions.onCreated(
        await actions.client.createJob(toJobCreate(settingsOf(job, actions.voices), job.scoreId, job.title)),
      );
    });

  return (
    <li
      className={`job ${job.status}${selected ? ' selected' : ''}`}
      data-job-id={job.id}
      data-status={job.status}
      data-stage={job.progress.stage}
      aria-labelledby={`title-${job.id}`}
    >
      <div className="job-head">
        {job.status === 'completed' && (
          <button
            type="button"
            className="play"
            onClick={() => (actions ? actions.onOpen(job.id, true) : onOpen?.(job.id))}
            aria-pressed={selected}
            aria-label={`Play ${title}`}
          >
            <span aria-hidden="true">▶</span> Play
          </button>
        )}
        <div className="job-main">
          <h3 className="job-title" id={`title-${job.id}`}>
            {title}
          </h3>
          <p className="job-meta muted">
            {meta.join(' · ')}
            {settings && <span className="job-settings"> · {settings}</span>}
          </p>
        </div>
        <span className={`badge ${job.status}`}>{STATUS_LABEL[job.status]}</span>
      </div>
      {!isTerminal(job.status) && <ProgressLine job={job} label={`Progress of ${title}`} />}
      {job.error && (
        <p className="error" data-error-code={job.error.code}>
          {describeJobError(job.error)}
        </p>
      )}
      <div className="job-foot">
        <span className="muted">
          <Credits job={job} />
        </span>
        {actions ? (
          <div className="job-actions" role="group" aria-label={`Actions for ${title}`}>
            <button type="button" className="secondary" data-action="rename" aria-expanded={panel === 'rename'} onClick={(e) => open('rename', e.currentTarget)}>
              Rename
            </button>
            <button type="button" className="secondary" data-action="rerender" aria-expanded={panel === 'rerender'} onClick={(e) => open('rerender', e.currentTarget)}>
              Re-render
            </button>
            {(job.status === 'failed' || job.status === 'cancelled') && (
              <button type="button" className="secondary" data-action="retry" disabled={busy || !job.scoreId} onClick={retry}>
                Retry
              </button>
            )}
            {job.status === 'completed' && (
              <button type="button" className="secondary" data-action="share" aria-expanded={panel === 'share'} onClick={(e) => open('share', e.currentTarget)}>
                Share
              </button>
            )}
            {!isTerminal(job.status) && (
              <button type="button" className="secondary" data-action="cancel" disabled={busy} onClick={cancel}>
                Cancel
              </button>
            )}
            <button type="button" className="secondary danger" data-action="delete" aria-expanded={panel === 'delete'} onClick={(e) => open('delete', e.currentTarget)}>
              Delete
            </button>
          </div>
        ) : (
          job.status === 'pending' && (
            <button type="button" className="secondary" onClick={cancel}>
              Cancel
            </button>
          )
        )}
      </div>
      {actions && panel === 'rename' && <RenamePanel job={job} title={title} actions={actions} onDone={close} />}
      {actions && panel === 'rerender' && <RerenderPanel job={job} actions={actions} onDone={close} />}
      {actions && panel === 'share' && <SharePanel job={job} actions={actions} onDone={close} />}
      {actions && panel === 'delete' && (
        <PanelBox label={`Delete ${title}`} onEscape={close}>
          <p>
            Delete “{title}” and its audio? {!isTerminal(job.status) && 'Its render is cancelled and the credits refunded. '}
            This cannot be undone.
          </p>
          <div className="row">
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  await actions.client.deleteJob(job.id);
                  actions.onRemoved(job.id);
                })
              }
            >
              Delete the song
            </button>
            <button type="button" className="secondary" onClick={close}>
              Keep it
            </button>
          </div>
        </PanelBox>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

/** A row's open panel: its first field takes the focus, Escape closes it. */
function PanelBox({ label, onEscape, children }: { label: string; onEscape(): void; children: ReactNode }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.querySelector<HTMLElement>('input, select, button, a[href]')?.focus();
  }, []);
  return (
    <div
      className="job-panel"
      role="group"
      aria-label={label}
      ref={box}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onEscape();
        }
      }}
    >
      {children}
    </div>
  );
}

function RenamePanel({ job, title, actions, onDone }: { job: Job; title: string; actions: RowActions; onDone(): void }) {
  const [value, setValue] = useState(title);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = value.trim();
    if (!name) {
      setError('A song needs a name.');
      return;
    }
    try {
      actions.onChanged(await actions.client.rename(job.id, name));
      onDone();
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <PanelBox label={`Rename ${title}`} onEscape={onDone}>
      <form className="row rename" onSubmit={submit}>
        <label className="visually-hidden" htmlFor={`rename-${job.id}`}>
          New name of {title}
        </label>
        <input id={`rename-${job.id}`} value={value} maxLength={200} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
        <button type="submit">Save</button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </PanelBox>
  );
}

/** The same score again with other settings (the phrase cache makes unchanged phrases cheap). */
function RerenderPanel({ job, actions, onDone }: { job: Job; actions: RowActions; onDone(): void }) {
  const [settings, setSettings] = useState<RenderSettings>(() => settingsOf(job, actions.voices));
  const [upload, setUpload] = useState<Upload | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!job.scoreId) return;
    let current = true;
    // The score's verses and parts; without them (an older API) those two choices are not offered.
    actions.client.uploadInfo(job.scoreId).then(
      (u) => current && setUpload(u),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [actions.client, job.scoreId]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!job.scoreId) {
      setError('This song’s score is not known; upload it again.');
      return;
    }
    const invalid = checkSettings(settings);
    if (invalid) {
      setError(invalid);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      actions.onCreated(await actions.client.createJob(toJobCreate(settings, job.scoreId, job.title)));
      onDone();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <PanelBox label={`Re-render ${songTitle(job)}`} onEscape={onDone}>
      <form onSubmit={submit} className="rerender">
        <RenderOptions
          voices={actions.voices}
          voicesProblem={actions.voicesProblem}
          upload={upload}
          settings={settings}
          onChange={setSettings}
          resolve={(path) => actions.client.resolve(path)}
          idPrefix={`rr-${job.id}-`}
          compact
          disabled={busy}
        />
        <p className="hint small">Phrases already sung with the same settings are reused, so a change costs little time.</p>
        <div className="row">
          <button type="submit" disabled={busy}>
            {busy ? 'Starting…' : 'Render again'}
          </button>
          <button type="button" className="secondary" onClick={onDone}>
            Cancel
          </button>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </PanelBox>
  );
}

/** The page that plays a shared song, as an absolute URL. */
export function shareHref(share: Pick<Share, 'url' | 'token'>, origin: string): string {
  const path = share.url || `/s/${share.token}`;
  return /^https?:\/\//.test(path) ? path : `${origin}${path}`;
}

function SharePanel({ job, actions, onDone }: { job: Job; actions: RowActions; onDone(): void }) {
  const [share, setShare] = useState<Share | null>(job.share ?? null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const href = share ? shareHref(share, window.location.origin) : '';
  const act = async (work: () => Promise<void>) => {
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <PanelBox label={`Share ${songTitle(job)}`} onEscape={onDone}>
      {share ? (
        <>
          <p>
            Anyone with this link can play the song (nothing else of yours) until{' '}
            {new Date(share.expiresAt * 1000).toLocaleDateString()} or until you revoke it.
          </p>
          <div className="row share-link">
            <label className="visually-hidden" htmlFor={`share-${job.id}`}>
              Share link of {songTitle(job)}
            </label>
            <input id={`share-${job.id}`} readOnly value={href} data-share-url={href} onFocus={(e) => e.currentTarget.select()} />
            <button
              type="button"
              onClick={() =>
                void act(async () => {
                  await navigator.clipboard.writeText(href);
                  setCopied(true);
                })
              }
            >
              {copied ? 'Copied' : 'Copy link'}
            </button>
            <button
              type="button"
              className="secondary danger"
              onClick={() =>
                void act(async () => {
                  await actions.client.unshare(job.id);
                  setShare(null);
                  setCopied(false);
                  actions.onChanged({ ...job, share: null });
                })
              }
            >
              Revoke link
            </button>
          </div>
        </>
      ) : (
        <>
          <p>Make a link that plays this song for anyone who has it, without signing in. It expires in 30 days.</p>
          <div className="row">
            <button
              type="button"
              onClick={() =>
                void act(async () => {
                  const made = await actions.client.share(job.id);
                  setShare(made);
                  actions.onChanged({ ...job, share: made });
                })
              }
            >
              Create link
            </button>
            <button type="button" className="secondary" onClick={onDone}>
              Close
            </button>
          </div>
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </PanelBox>
  );
}
