/** The caller's jobs, newest first, updated live. */
import { useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job } from '../api/types';
import { JobRow } from './JobRow';

interface Props {
  client: ApiClient;
  jobs: Job[];
  problem: string | null;
  selected: string | null;
  onOpen(id: string): void;
  onChanged(job: Job): void;
  loadOlder: (() => void) | null;
}

export function JobList({ client, jobs, problem, selected, onOpen, onChanged, loadOlder }: Props) {
  const [error, setError] = useState<string | null>(null);
  const cancel = async (id: string) => {
    setError(null);
    try {
      onChanged(await client.cancel(id));
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <section className="card" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Your songs</h2>
      {problem && (
        <p className="warning" role="status">
          {problem}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {jobs.length === 0 ? (
        <p className="muted">No songs yet. Upload a score above.</p>
      ) : (
        <ul className="jobs">
          {jobs.map((job) => (
            <JobRow key={job.id} job={job} selected={job.id === selected} onOpen={onOpen} onCancel={cancel} />
          ))}
        </ul>
      )}
      {loadOlder && (
        <button type="button" className="secondary more" onClick={loadOlder}>
          Show older songs
        </button>
      )}
    </section>
  );
}
