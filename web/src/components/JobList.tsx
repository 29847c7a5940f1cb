/** The caller's songs, newest first, updated live; found by name. */
import { useState } from 'react';
import type { Job } from '../api/types';
import { plural, songTitle } from '../lib/jobs';
import { JobRow, type RowActions } from './JobRow';

interface Props {
  jobs: Job[];
  problem: string | null;
  selected: string | null;
  actions: RowActions;
  loadOlder: (() => void) | null;
}

export function JobList({ jobs, problem, selected, actions, loadOlder }: Props) {
  const [query, setQuery] = useState('');
  const needle = query.trim().toLowerCase();
  const shown = needle ? jobs.filter((j) => songTitle(j).toLowerCase().includes(needle)) : jobs;
  return (
    <section className="card" aria-labelledby="jobs-title">
      <div className="list-head">
        <h2 id="jobs-title">Your songs</h2>
        {jobs.length > 3 && (
          <div className="field find">
            <label htmlFor="find-song" className="visually-hidden">
              Find a song by name
            </label>
            <input id="find-song" type="search" placeholder="Find a song by name" value={query} onChange={(e) => setQuery(e.target.value)} />
          </div>
        )}
      </div>
      {problem && (
        <p className="warning" role="status">
          {problem}
        </p>
      )}
      {jobs.length === 0 ? (
        <p className="muted">No songs yet. Upload a score above.</p>
      ) : shown.length === 0 ? (
        <p className="muted" role="status">
          No song is named like “{query}”.
        </p>
      ) : (
        <>
          {needle && (
            <p className="visually-hidden" role="status">
              {plural(shown.length, 'song')} found
            </p>
          )}
          <ul className="jobs">
            {shown.map((job) => (
              <JobRow key={job.id} job={job} selected={job.id === selected} actions={actions} />
            ))}
          </ul>
        </>
      )}
      {loadOlder && (
        <button type="button" className="secondary more" onClick={loadOlder}>
          Show older songs
        </button>
      )}
    </section>
  );
}
