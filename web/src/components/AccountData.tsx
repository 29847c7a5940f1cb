/** The person's data: download all of it (a zip), or delete the account with everything in it. */
import { useState, type FormEvent } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';

interface Props {
  client: ApiClient;
  /** The name the person signed in with: typed again to confirm a deletion. */
  label: string;
  onDeleted(): void;
}

export function AccountData({ client, label, onDeleted }: Props) {
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');

  const download = async () => {
    setBusy('Preparing your data…');
    setProblem(null);
    try {
      const zip = await client.exportData();
      const href = URL.createObjectURL(zip);
      const link = document.createElement('a');
      link.href = href;
      link.download = 'ai-singer-data.zip';
      link.click();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
    } catch (e) {
      setProblem(describeError(e));
    } finally {
      setBusy(null);
    }
  };

  const remove = async (event: FormEvent) => {
    event.preventDefault();
    if (typed.trim() !== label) {
      setProblem(`Type “${label}” to confirm.`);
      return;
    }
    setBusy('Deleting…');
    setProblem(null);
    try {
      await client.deleteAccount();
      onDeleted();
    } catch (e) {
      setProblem(describeError(e));
      setBusy(null);
    }
  };

  return (
    <section className="card" aria-labelledby="account-title">
      <details>
        <summary>
          <h2 id="account-title">Your data</h2>
        </summary>
        <p>Download everything stored for you (scores, songs, jobs and credit history) as one zip file.</p>
        <button type="button" className="secondary" disabled={busy !== null} onClick={() => void download()}>
          {busy === 'Preparing your data…' ? busy : 'Download my data'}
        </button>
        {!confirming ? (
          <p>
            <button type="button" className="secondary danger" onClick={() => setConfirming(true)}>
              Delete my account…
            </button>
          </p>
        ) : (
          <form className="row delete-account" onSubmit={remove}>
            <label htmlFor="confirm-delete">
              This deletes your account, every song and score and your credits, and cannot be undone. Type “{label}” to
              confirm:
            </label>
            <input id="confirm-delete" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
            <button type="submit" className="danger" disabled={busy !== null}>
              {busy === 'Deleting…' ? busy : 'Delete everything'}
            </button>
            <button type="button" className="secondary" onClick={() => setConfirming(false)}>
              Keep my account
            </button>
          </form>
        )}
        {problem && (
          <p className="error" role="alert">
            {problem}
          </p>
        )}
      </details>
    </section>
  );
}
