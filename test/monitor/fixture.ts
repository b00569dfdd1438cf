// Runs a fixture in its own process and reads the JSON lines it prints.
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../helpers/json-lines.js';

export interface Fixture {
  child: ChildProcess;
  /** Resolves with the first printed JSON line that matches (lines already seen count). */
  waitFor<T = Record<string, unknown>>(match: (line: Record<string, unknown>) => boolean): Promise<T>;
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/monitor/${name}`, import.meta.url));
}

export function runFixture(name: string, options: ForkOptions & { args?: string[] } = {}): Fixture {
  const child = fork(fixturePath(name), options.args ?? [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [],
    ...options,
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: unknown) => void }> = [];
  let stderr = '';
  if (child.stdout !== null) {
    onJsonLines(child.stdout, (value) => {
      const line = value as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.slice()) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
  }
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitFor<T>(match: (line: Record<string, unknown>) => boolean): Promise<T> {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen as T);
      return new Promise<T>((resolve, reject) => {
        waiters.push({ match, resolve: resolve as (line: unknown) => void });
        void exited.then(({ code, signal }) =>
          reject(new Error(`fixture ${name} exited (${code ?? signal}) before the line came; stderr:\n${stderr}`)),
        );
      });
    },
  };
}
