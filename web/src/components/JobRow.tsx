/** One job: status, per-stage progress, cost, its error in words, and what can be done with it. */
import { describeJobError } from '../api/errors';
import { isTerminal, type Job } from '../api/types';
import { formatSeconds, formatTime, overallProgress, stageLabel } from '../lib/jobs';

interface Props {
  job: Job;
  selected: boolean;
  onOpen(id: string): void;
  onCancel(id: string): void;
}

const STATUS_LABEL: Record<Job['status'], string> = {
  pending: 'Waiting',
  processing: 'Rendering',
  completed: 'Ready',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

function Credits({ job }: { job: Job }) {
  const { reserved, charged, refunded } = job.credits;
  if (job.status === 'completed') return <>{charged} credits charged</>;
  if (isTerminal(job.status)) return <>{refunded} credits refunded</>;
  return <>{reserved} credits held</>;
}

export function JobRow({ job, selected, onOpen, onCancel }: Props) {
  const percent = Math.round(overallProgress(job) * 100);
  const title = `${job.renderType === 'final' ? 'Final' : 'Preview'} · ${job.voice}${job.language ? ` · ${job.language}` : ''}`;
  return (
    <li className={`job ${job.status}${selected ? ' selected' : ''}`} data-job-id={job.id} data-status={job.status} data-stage={job.progress.stage}>
      <div className="job-head">
        <span className={`badge ${job.status}`}>{STATUS_LABEL[job.status]}</span>
        <span className="job-title">{title}</span>
        <span className="muted">{formatTime(job.createdAt)}</span>
      </div>
      {!isTerminal(job.status) && (
        <div className="job-progress">
          <progress max={100} value={percent} aria-label={`Progress of the job created at ${formatTime(job.createdAt)}`}>
            {percent}%
          </progress>
          <span>
            {stageLabel(job.progress.stage)}
            {job.status === 'processing' && ` · ${Math.round(job.progress.fraction * 100)}%`}
            {job.attempts > 1 && ` · attempt ${job.attempts}`}
          </span>
        </div>
      )}
      {job.error && (
        <p className="error" data-error-code={job.error.code}>
          {describeJobError(job.error)}
        </p>
      )}
      <div className="job-foot">
        <span className="muted">
          <Credits job={job} />
          {job.durationSeconds ? ` · ${formatSeconds(job.durationSeconds)} of song` : ''}
        </span>
        {job.status === 'completed' && (
          <button type="button" onClick={() => onOpen(job.id)} aria-pressed={selected}>
            {selected ? 'Showing' : 'Listen'}
          </button>
        )}
        {job.status === 'pending' && (
          <button type="button" className="secondary" onClick={() => onCancel(job.id)}>
            Cancel
          </button>
        )}
      </div>
    </li>
  );
}
