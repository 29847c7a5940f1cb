/** The caller's balance and costs, refreshed whenever `version` changes (a job was created or ended). */
import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';
import { describeError } from '../api/errors';
import type { Me } from '../api/types';

export function useAccount(client: ApiClient, version: string): { me: Me | null; problem: string | null } {
  const [me, setMe] = useState<Me | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    client.me().then(
      (m) => {
        if (!current) return;
        setMe(m);
        setProblem(null);
      },
      (e: unknown) => current && setProblem(describeError(e)),
    );
    return () => {
      current = false;
    };
  }, [client, version]);
  return { me, problem };
}
