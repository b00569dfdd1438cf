// The queue worker's tests: worker processes spawned as users run them (`dist/cli.js worker …`),
// their JSON log lines (stderr) collected so a test can wait for "job started" before it kills.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../helpers/json-lines.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = join(root, 'dist/cli.js');

export function queueFixture(name: string): string {
  return join(root, 'test/fixtures/queue/worker', name);
}

/** The environment without any loopguard setting or preload the test runner may carry. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LOOPGUARD_') || key === 'NODE_OPTIONS' || key.startsWith('VITEST')) continue;
    env[key] = value;
  }
  // json: the monitor's lines parse like the worker's; no TTY decides it for us.
  return { ...env, NODE_ENV: 'production', LOOPGUARD_LOG: 'json', ...extra };
}

export type LogRecord = Record<string, unknown> & { msg?: string; id?: string; fn?: string; outcome?: string };

export interface WorkerProcess {
  child: ChildProcess;
  readonly stderr: string;
  readonly stdout: string;
  readonly records: readonly LogRecord[];
  /** Resolves with the first record (already seen or still to come) that `match` accepts. */
  waitFor(match: (record: LogRecord) => boolean, what?: string): Promise<LogRecord>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/** SIGKILL every worker still running (afterEach / afterAll). */
export function killWorkers(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  started.clear();
}

export function spawnWorker(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): WorkerProcess {
  const child = spawn(process.execPath, [cliPath, 'worker', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let stderr = '';
  let stdout = '';
  const records: LogRecord[] = [];
  const waiters: Array<{ match: (record: LogRecord) => boolean; resolve: (record: LogRecord) => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  // onJsonLines sets the encoding: this listener gets the same text.
  onJsonLines(child.stderr!, (value) => {
    const record = value as LogRecord;
    records.push(record);
    for (const waiter of [...waiters]) {
      if (waiter.match(record)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    }
  });
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    records,
    waitFor(match, what = 'a matching log line') {
      const seen = records.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<LogRecord>((resolve) => waiters.push({ match, resolve })),
        exited.then(({ code, signal }) => {
          throw new Error(`worker exited (code ${code}, signal ${signal}) before ${what}\nstderr: ${stderr}`);
        }),
      ]);
    },
    exited,
  };
}
