/**
 * The production live path: the SPA's own Firestore listener (src/live/firestore.ts) against Google's
 * Firestore emulator enforcing the project's firestore.rules. The owner sees her job change state;
 * another user's listener on her jobs is refused, and his own listener does not see them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteApp, initializeApp, type FirebaseApp } from 'firebase/app';
import { connectFirestoreEmulator, getFirestore, type Firestore, type FirestoreError } from 'firebase/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../src/api/types';
import { listenJobs } from '../src/live/firestore';
import { freePort, REPO, requireTool, Service } from './processes';

const PROJECT = 'demo-singer-web';

/** The Google Cloud SDK root (as tests/emulators.py finds it), or null when gcloud is absent. */
function sdkRoot(): string | null {
  for (const candidate of [process.env.CLOUDSDK_ROOT_DIR, '/usr/lib/google-cloud-sdk']) {
    if (candidate && existsSync(join(candidate, 'platform'))) return candidate;
  }
  const config = mkdtempSync(join(tmpdir(), 'gcloud-config-'));
  try {
    // A scratch CLOUDSDK_CONFIG: gcloud would otherwise write into the home folder.
    const out = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      env: { ...process.env, CLOUDSDK_CONFIG: config },
      encoding: 'utf8',
    });
    return out.trim() || null;
  } catch {
    return null;
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}

const root = sdkRoot();
const binary = root ? join(root, 'platform', 'cloud-firestore-emulator', 'cloud_firestore_emulator') : '';
const enabled = requireTool(Boolean(root) && existsSync(binary), "Google's Firestore emulator");

let emulator: Service;
let port = 0;
const apps: FirebaseApp[] = [];

/** Writes a job as the server does (the emulator's `Bearer owner` bypasses rules, like the admin SDK). */
async function writeJob(id: string, fields: Record<string, string | number>, create: boolean): Promise<void> {
  const docs = `http://127.0.0.1:${port}/v1/projects/${PROJECT}/databases/(default)/documents`;
  const body = {
    fields: Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, typeof v === 'number' ? { doubleValue: v } : { stringValue: v }]),
    ),
  };
  const mask = Object.keys(fields).map((k) => `updateMask.fieldPaths=${k}`).join('&');
  const url = create ? `${docs}/jobs?documentId=${id}` : `${docs}/jobs/${id}?${mask}`;
  const response = await fetch(url, {
    method: create ? 'POST' : 'PATCH',
    headers: { Authorization: 'Bearer owner', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.ok, `seeding ${id}: ${response.status} ${await response.text()}`).toBe(true);
}

/** A Firestore client signed in (by the emulator's mock token) as `uid`. */
function clientAs(uid: string): Firestore {
  const app = initializeApp({ projectId: PROJECT, apiKey: 'emulator' }, `web-${uid}-${apps.length}`);
  apps.push(app);
  const db = getFirestore(app);
  connectFirestoreEmulator(db, '127.0.0.1', port, { mockUserToken: { user_id: uid } });
  return db;
}

type Answer = Job[] | FirestoreError;

/** Resolves with the first list of jobs that satisfies `want`, the listener's error, or null when
 * neither came within `silentMs` (the listener is stopped then). */
function watch(db: Firestore, uid: string, want: (jobs: Job[]) => boolean, silentMs: number): Promise<Answer | null> {
  return new Promise((resolve) => {
    let stop: (() => void) | null = null;
    const done = (value: Answer | null) => {
      clearTimeout(timer);
      stop?.();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), silentMs);
    stop = listenJobs(db, uid, (jobs) => want(jobs) && done(jobs), done);
  });
}

const ATTEMPT_MS = 15_000;
const DEADLINE_MS = 120_000;

/** `watch` as `signedIn` on `uid`'s jobs, each attempt on a fresh client, until DEADLINE_MS. The
 * emulator's Listen stream now and then fails with a bogus RESOURCE_EXHAUSTED ("message larger than
 * max", firebase-tools issue 8654), which the SDK retries only after its longest backoff (60 s); a new
 * client opens a new stream at once. A silent attempt is retried, never counted as an answer. */
async function watchAs(signedIn: string, uid: string, want: (jobs: Job[]) => boolean): Promise<Answer> {
  const end = Date.now() + DEADLINE_MS;
  while (Date.now() < end) {
    const answer = await watch(clientAs(signedIn), uid, want, Math.min(ATTEMPT_MS, end - Date.now()));
    if (answer !== null) return answer;
  }
  throw new Error(`no snapshot of ${uid}'s jobs for ${signedIn} within ${DEADLINE_MS} ms`);
}

describe.runIf(enabled)('the SPA Firestore listener under firestore.rules', () => {
  beforeAll(async () => {
    port = await freePort();
    const argv = [binary, 'start', '--host=127.0.0.1', `--port=${port}`, `--rules=${join(REPO, 'firestore.rules')}`];
    emulator = Service.start('firestore-emulator', argv, { cwd: tmpdir() });
    await emulator.waitReady(`http://127.0.0.1:${port}/`, async (r) => r.ok && (await r.text()).includes('Ok'));
    const now = Date.now() / 1000;
    await writeJob('alice-1', { userId: 'alice', status: 'pending', renderType: 'final', voice: 'builtin', createdAt: now, updatedAt: now }, true);
    // A document the SPA cannot read as a job (no status): skipped, never fatal to the list.
    await writeJob('alice-bad', { userId: 'alice', createdAt: now - 30 }, true);
    await writeJob('alice-0', { userId: 'alice', status: 'completed', renderType: 'preview', voice: 'builtin', createdAt: now - 60, updatedAt: now - 50 }, true);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => deleteApp(app)));
    await emulator?.stop(5_000);
  });

  it('gives the owner her jobs, newest first, skipping a malformed one, and follows a state change', async () => {
    const first = await watchAs('alice', 'alice', (jobs) => jobs.length === 2);
    expect(Array.isArray(first) && first.map((j) => [j.id, j.status])).toEqual([
      ['alice-1', 'pending'],
      ['alice-0', 'completed'],
    ]);
    const changed = watchAs('alice', 'alice', (jobs) => jobs[0]?.status === 'processing');
    await writeJob('alice-1', { status: 'processing', updatedAt: Date.now() / 1000 }, false);
    const after = await changed;
    expect(Array.isArray(after) && after[0]).toMatchObject({ id: 'alice-1', status: 'processing' });
  });

  it("refuses another user's listener on her jobs", async () => {
    const result = await watchAs('bob', 'alice', () => true);
    expect(Array.isArray(result)).toBe(false);
    expect((result as FirestoreError).code).toBe('permission-denied');
  });

  it('shows another user only his own (no) jobs', async () => {
    expect(await watchAs('bob', 'bob', () => true)).toEqual([]);
  });
});
