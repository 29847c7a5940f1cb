/** Everything a signed-in person sees: account, new job, jobs list and the selected result. */
import { useCallback, useMemo, useState } from 'react';
import { ApiClient } from '../api/client';
import type { Job } from '../api/types';
import type { Session } from '../auth/session';
import type { AppConfig } from '../config';
import { useAccount } from '../hooks/useAccount';
import { useJobs, type Subscribe } from '../hooks/useJobs';
import { subscribeEvents } from '../live/sse';
import { JobList } from './JobList';
import { NewJob } from './NewJob';
import { ResultView } from './ResultView';

/** The live feed of this mode: the API's event stream locally, a Firestore listener in production. */
function liveFeed(config: AppConfig, client: ApiClient, uid: string): Subscribe {
  if (config.mode === 'firebase') {
    const firebase = config.firebase;
    return async (handlers) => (await import('../live/firebaseLive')).subscribeFirestore(firebase, uid, handlers);
  }
  return async (handlers) => subscribeEvents(() => client.eventsUrl(), handlers);
}

export function Workspace({ config, session }: { config: AppConfig; session: Session }) {
  const client = useMemo(() => new ApiClient(config.apiBase, session.token), [config.apiBase, session]);
  const subscribe = useMemo(() => liveFeed(config, client, session.uid), [config, client, session.uid]);
  const { jobs, problem, upsert, loadOlder } = useJobs(client, subscribe);
  // The balance changes when a job is created or settles: refetch it on each such change.
  const version = jobs.map((j) => `${j.id}:${j.status}`).join(',');
  const { me, problem: accountProblem } = useAccount(client, version);
  const [selected, setSelected] = useState<string | null>(null);
  const selectedJob = jobs.find((j) => j.id === selected) ?? null;

  const created = useCallback(
    (job: Job) => {
      upsert([job]);
      setSelected(job.id);
    },
    [upsert],
  );
  const changed = useCallback((job: Job) => upsert([job]), [upsert]);

  return (
    <>
      <header className="topbar">
        <h1>AI singer</h1>
        <div className="account" aria-live="polite">
          {me && (
            <span>
              <strong data-testid="balance">{me.available}</strong> credits
            </span>
          )}
          <span className="muted">{session.label}</span>
          <button type="button" className="secondary" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        {accountProblem && (
          <p className="error" role="alert">
            {accountProblem}
          </p>
        )}
        <NewJob client={client} me={me} signedUpload={config.mode === 'firebase'} onCreated={created} />
        {selectedJob && <ResultView client={client} job={selectedJob} />}
        <JobList client={client} jobs={jobs} problem={problem} selected={selected} onOpen={setSelected} onChanged={changed} loadOlder={loadOlder} />
      </main>
    </>
  );
}
