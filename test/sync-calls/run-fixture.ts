import { spawn, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The worktree root: `--import tsx` resolves from here. */
export const root = fileURLToPath(new URL('../../', import.meta.url));

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/sync-calls/${name}`, import.meta.url));
}

/**
 * Run a fixture in a clean Node process (the one running the tests: 20 or 24), with tsx so
 * it can import loopguard's sources; resolve with the JSON it printed, reject if it failed.
 */
export function runFixture<T>(name: string, execArgv: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...execArgv, fixturePath(name)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${name} exited with ${code}:\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${name} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Fork a fixture with an IPC channel (for servers the test drives), through tsx. */
export function forkFixture(name: string): ChildProcess {
  return fork(fixturePath(name), [], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next IPC message of `type` from `child`; rejects if the child exits first. */
export function nextMessage<T extends { type: string }>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message?.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`fixture exited (${code}) before sending '${type}'`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
