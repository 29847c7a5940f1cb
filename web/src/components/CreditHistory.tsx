/** The credit ledger (GET /v1/me/credits): every reservation, charge, refund and grant, newest first. */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Job, LedgerEntry } from '../api/types';
import { formatDate, plural, songTitle } from '../lib/jobs';

const KIND_LABEL: Record<LedgerEntry['kind'], string> = {
  reserve: 'Held for a render',
  charge: 'Charged for a song',
  release: 'Hold released',
  refund: 'Refunded',
  grant: 'Granted',
  refill: 'Monthly refill',
};

/** "+5", "−3" (a real minus sign), "0". */
export function signed(amount: number): string {
  if (amount > 0) return `+${amount}`;
  if (amount < 0) return `−${Math.abs(amount)}`;
  return '0';
}

interface Props {
  client: ApiClient;
  /** The songs known to the page, to name the song an entry is about. */
  jobs: readonly Job[];
  /** Changes whenever the balance may have changed: an open history reloads. */
  version: string;
}

export function CreditHistory({ client, jobs, version }: Props) {
  const [open, setOpen] = useState(false);
  const [entries, setEntries] = useState<LedgerEntry[] | null>(null);
  const [before, setBefore] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = useCallback(
    (older?: number) =>
      client.credits(20, older).then(
        (page) => {
          setEntries((current) => (older === undefined ? page.entries : [...(current ?? []), ...page.entries]));
          setBefore(page.nextBefore);
          setProblem(null);
        },
        (e: unknown) => setProblem(describeError(e)),
      ),
    [client],
  );
  useEffect(() => {
    if (open) void load();
  }, [open, load, version]);
  const titles = new Map(jobs.map((j) => [j.id, songTitle(j)]));
  return (
    <section className="card" aria-labelledby="credits-title">
      <details onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>
          <h2 id="credits-title">Credit history</h2>
        </summary>
        {problem && (
          <p className="error" role="alert">
            {problem}
          </p>
        )}
        {open && entries === null && !problem && <p className="muted">Loading…</p>}
        {entries && entries.length === 0 && <p className="muted">No credit changes yet.</p>}
        {entries && entries.length > 0 && (
          <table className="ledger">
            <caption className="visually-hidden">Changes of your credits, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" className="num">
                  Change
                </th>
                <th scope="col" className="num">
                  Balance
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-kind={e.kind}>
                  <td>{formatDate(e.at)}</td>
                  <td>
                    {KIND_LABEL[e.kind] ?? e.kind}
                    {e.jobId && titles.has(e.jobId) ? `: ${titles.get(e.jobId)}` : ''}
                    {e.reason && <span className="muted"> ({e.reason})</span>}
                  </td>
                  <td className="num">{signed(e.amount)}</td>
                  <td className="num">
                    {e.balanceAfter}
                    {e.reservedAfter > 0 && <span className="muted"> ({e.reservedAfter} held)</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {before !== null && entries && (
          <button type="button" className="secondary more" onClick={() => void load(before)}>
            Show older entries
          </button>
        )}
        {entries && <p className="hint small">{plural(entries.length, 'entry', 'entries')} shown.</p>}
      </details>
    </section>
  );
}
