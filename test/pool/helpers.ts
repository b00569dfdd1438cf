import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/pool/${name}`, import.meta.url));

/**
 * The longest gap between ticks of a 5 ms interval while `work` runs: how long the main
 * loop was held. Ticks are measured on the main thread itself, so this is what users feel.
 */
export async function longestLoopGap<T>(work: () => Promise<T>): Promise<{ value: T; longestGap: number }> {
  let last = performance.now();
  let longestGap = 0;
  const heartbeat = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  try {
    const value = await work();
    longestGap = Math.max(longestGap, performance.now() - last);
    return { value, longestGap };
  } finally {
    clearInterval(heartbeat);
  }
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Run a fixture in a fresh Node process and collect its output (parsed by the caller). */
export function runChild(file: string, execArgv: string[] = [], timeoutMs = 20_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...execArgv, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not exit within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}

export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
