/** Start and stop the services the end-to-end tests need, each in its own process group. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(REPO, 'artifacts', 'web');

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** A process started in its own group (so its children stop with it), logging to a file. */
export class Service {
  private exited = false;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly log: string,
  ) {
    child.once('exit', () => (this.exited = true));
  }

  static start(name: string, argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Service {
    const log = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'log.txt');
    const out = openSync(log, 'w');
    const [cmd, ...args] = argv as [string, ...string[]];
    // detached: a new process group. The emulator's start script and taskkit's supervisor have
    // children that must stop too: the whole group is signalled.
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', out, out] });
    return new Service(name, child, log);
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Polls `url` until `ready(response)` holds; fails naming the log when the process dies or time runs out. */
  async waitReady(url: string, ready: (r: Response) => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.name} exited during start-up; see ${this.log}`);
      try {
        if (await ready(await fetch(url))) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${this.name} not ready at ${url} after ${timeoutMs / 1000} s; see ${this.log}`);
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        // the group is already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Whatever is left in the group (a worker, the emulator's Java child) goes now.
    signal('SIGKILL');
  }
}

/** An embedded stack (`python -m taskkit run`) on a free port and a fresh data folder, started and healthy. */
export interface Stack {
  service: Service;
  base: string;
  port: number;
  /** The scratch folder holding the stack's data folder (`data/`): remove it when done. */
  dataDir: string;
}

export async function startStack(
  prefix: string,
  options: { workers?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const argv = [python(), '-m', 'taskkit', 'run', '--port', String(port)];
  if (options.workers !== undefined) argv.push('--workers', String(options.workers));
  const service = Service.start('taskkit-stack', argv, {
    cwd: REPO,
    env: { ...process.env, TASKKIT_DATA_DIR: join(dataDir, 'data'), ...options.env },
  });
  await service.waitReady(`${base}/healthz`, async (r) => r.ok);
  return { service, base, port, dataDir };
}

/** The python that runs the embedded stack: E2E_PYTHON (nox sets it), else the repo's .venv. */
export function python(): string {
  if (process.env.E2E_PYTHON) return process.env.E2E_PYTHON;
  const venv = join(REPO, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** Skip on a developer's machine, fail in CI (CI=true), when a needed tool is missing. */
export function requireTool(present: boolean, what: string): boolean {
  if (present) return true;
  if (process.env.CI === 'true') throw new Error(`${what} is not installed; CI must run this test`);
  return false;
}
