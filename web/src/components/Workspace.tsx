/** Everything a signed-in person sees: account, new song, the library and the selected song. */
import { useCallback, useMemo, useState } from 'react';
import { ApiClient } from '../api/client';
import type { Job, Me } from '../api/types';
import type { Session } from '../auth/session';
import type { AppConfig } from '../config';
import { useAccount } from '../hooks/useAccount';
import { useJobs, type Subscribe } from '../hooks/useJobs';
import { plural } from '../lib/jobs';
import { subscribeEvents } from '../live/sse';
import { AccountData } from './AccountData';
import { CreditHistory } from './CreditHistory';
import { JobList } from './JobList';
import type { RowActions } from './JobRow';
import { NewJob } from './NewJob';
import { ResultView } from './ResultView';
import { useVoices } from './VoicePicker';

/** The live feed of this mode: the API's event stream locally, a Firestore listener in production. */
function liveFeed(config: AppConfig, client: ApiClient, uid: string): Subscribe {
  if (config.mode === 'firebase') {
    const firebase = config.firebase;
    return async (handlers) => (await import('../live/firebaseLive')).subscribeFirestore(firebase, uid, handlers);
  }
  return async (handlers) => subscribeEvents(() => client.eventsUrl(), handlers);
}

/**
 * The available credits and, beside them, those held by renders in flight. The space is kept while
 * the balance loads, so the top bar does not reflow when it arrives.
 */
export function Balance({ me }: { me: Me | null }) {
  return (
    <span className="balance" aria-live="polite">
      {me ? (
        <>
          <strong data-testid="balance">{me.available}</strong> {me.available === 1 ? 'credit' : 'credits'}
          {me.reserved > 0 && (
            <span className="muted" data-testid="held">
              {' '}
              · {me.reserved} held by {plural(me.inFlight, 'render')}
            </span>
          )}
        </>
      ) : (
        <span className="muted">… credits</span>
      )}
    </span>
  );
}

export function Workspace({ config, session }: { config: AppConfig; session: Session }) {
  const client = useMemo(() => new ApiClient(config.apiBase, session.token), [config.apiBase, session]);
  const subscribe = useMemo(() => liveFeed(config, client, session.uid), [config, client, session.uid]);
  const { jobs, problem, loaded, upsert, remove, loadOlder } = useJobs(client, subscribe);
  const { voices, problem: voicesProblem } = useVoices(client);
  // The balance changes when a job is created or settles: refetch it on each such change.
  const version = jobs.map((j) => `${j.id}:${j.status}`).join(',');
  const { me, problem: accountProblem } = useAccount(client, version);
  const [selected, setSelected] = useState<string | null>(null);
  // Bumped by a row's Play: the player starts once the song is loaded.
  const [playRequest, setPlayRequest] = useState(0);
  const selectedJob = jobs.find((j) => j.id === selected) ?? null;

  const created = useCallback(
    (job: Job) => {
      upsert([job]);
      setSelected(job.id);
    },
    [upsert],
  );
  const actions: RowActions = useMemo(
    () => ({
      client,
      voices,
      voicesProblem,
      onOpen: (id, play = false) => {
        setSelected(id);
        if (play) setPlayRequest((n) => n + 1);
      },
      onChanged: (job) => upsert([job]),
      onCreated: created,
      onRemoved: (id) => {
        remove(id);
        setSelected((current) => (current === id ? null : current));
      },
    }),
    [client, voices, voicesProblem, upsert, created, remove],
  );

  return (
    <>
      <header className="topbar">
        <h1>AI singer</h1>
        <div className="account">
          <Balance me={me} />
          <span className="muted user">{session.label}</span>
          <button type="button" className="secondary" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {/* Laid out once what it shows is known (voices, balance, the first songs), so nothing shifts. */}
      {!(loaded && (voices || voicesProblem) && (me || accountProblem)) ? (
        <main aria-busy="true">
          <p className="muted">Loading your songs…</p>
        </main>
      ) : (
        <main>
          {accountProblem && (
            <p className="error" role="alert">
              {accountProblem}
            </p>
          )}
          <NewJob
            client={client}
            me={me}
            voices={voices}
            voicesProblem={voicesProblem}
            signedUpload={config.mode === 'firebase'}
            onCreated={created}
          />
          {selectedJob && <ResultView client={client} job={selectedJob} playRequest={playRequest} />}
          <JobList jobs={jobs} problem={problem} selected={selected} actions={actions} loadOlder={loadOlder} />
          <CreditHistory client={client} jobs={jobs} version={version} />
          <AccountData client={client} label={session.label} onDeleted={() => void session.signOut()} />
        </main>
      )}
    </>
  );
}
