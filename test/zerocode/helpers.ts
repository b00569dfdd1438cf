// Shared by the zero-code tests: run a fixture in its own process and talk to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../helpers/json-lines.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = join(root, 'dist/cli.js');
export const registerEsm = join(root, 'dist/register.js');
export const registerCjs = join(root, 'dist/register.cjs');

export function fixture(name: string): string {
  return join(root, 'test/fixtures/zerocode', name);
}

/** The environment without any loopguard setting or preload the test runner may carry. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LOOPGUARD_') || key === 'NODE_OPTIONS' || key.startsWith('VITEST')) continue;
    env[key] = value;
  }
  return { ...env, NODE_ENV: 'development', ...extra };
}

const started = new Set<ChildProcess>();

/** SIGKILL every process group run() started that is still running (call it in afterEach). */
export function killLeftovers(): void {
  for (const child of started) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  started.clear();
}

export interface Running {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the next line of stdout that parses as JSON. */
  nextJson<T = Record<string, unknown>>(): Promise<T>;
  /** Resolves once stderr contains `text`. */
  stderrIncludes(text: string): Promise<void>;
  /** Resolves once stdout contains `text` (a terminal run by `script` has only stdout). */
  stdoutIncludes(text: string): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { cwd?: string; stdin?: 'ignore' | 'pipe' } = {},
): Running {
  // Detached: in a process group of its own, so killLeftovers() can end the command and the
  // processes it started (a stuck app under the CLI) when a test fails before they exit.
  const child = spawn(command, args, {
    env,
    cwd: options.cwd ?? root,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  const jsonLines: unknown[] = [];
  const jsonWaiters: Array<(value: unknown) => void> = [];
  const stderrWaiters: Array<{ text: string; resolve: () => void }> = [];
  const stdoutWaiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...stdoutWaiters]) {
      if (stdout.includes(waiter.text)) {
        stdoutWaiters.splice(stdoutWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  onJsonLines(child.stdout!, (parsed) => {
    const waiter = jsonWaiters.shift();
    if (waiter) waiter(parsed);
    else jsonLines.push(parsed);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of [...stderrWaiters]) {
      if (stderr.includes(waiter.text)) {
        stderrWaiters.splice(stderrWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const failOnExit = <T>(what: string): Promise<T> =>
    exited.then(({ code, signal }) => {
      throw new Error(`process exited (code ${code}, signal ${signal}) before ${what}\nstdout: ${stdout}\nstderr: ${stderr}`);
    });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    nextJson<T>() {
      if (jsonLines.length > 0) return Promise.resolve(jsonLines.shift() as T);
      return Promise.race([new Promise<T>((resolve) => jsonWaiters.push(resolve as (v: unknown) => void)), failOnExit<T>('a JSON line')]);
    },
    stderrIncludes(text: string) {
      if (stderr.includes(text)) return Promise.resolve();
      return Promise.race([
        new Promise<void>((resolve) => stderrWaiters.push({ text, resolve })),
        failOnExit<void>(`stderr included ${JSON.stringify(text)}`),
      ]);
    },
    stdoutIncludes(text: string) {
      if (stdout.includes(text)) return Promise.resolve();
      return Promise.race([
        new Promise<void>((resolve) => stdoutWaiters.push({ text, resolve })),
        failOnExit<void>(`stdout included ${JSON.stringify(text)}`),
      ]);
    },
    exited,
  };
}

/** GET from this process (the server under test is another process, and it is the one blocked). */
export function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every src/href/url() in the page: a self-contained report has none pointing at a network. */
export function networkReferences(html: string): string[] {
  const found = html.match(/(?:src|href|action|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi) ?? [];
  const css = html.match(/url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi) ?? [];
  const imports = html.match(/@import/gi) ?? [];
  return [...found, ...css, ...imports];
}
