import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../helpers/json-lines.js';

export interface JsonLineProcess {
  child: ChildProcess;
  /** The next message of `type` (already received or still to come). */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Spawn a fixture of test/fixtures/adapters that prints one JSON object per line on stdout. */
export function startFixture(name: string, args: string[]): JsonLineProcess {
  const file = fileURLToPath(new URL(`../fixtures/adapters/${name}`, import.meta.url));
  const child = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const queued: Array<Record<string, unknown>> = [];
  const waiting: Array<{ type: string; resolve: (message: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  onJsonLines(child.stdout!, (value) => {
    const message = value as Record<string, unknown>;
    const index = waiting.findIndex((waiter) => waiter.type === message['type']);
    if (index === -1) queued.push(message);
    else waiting.splice(index, 1)[0]!.resolve(message);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    next(type, timeoutMs = 15_000) {
      const index = queued.findIndex((message) => message['type'] === type);
      if (index !== -1) return Promise.resolve(queued.splice(index, 1)[0]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no "${type}" message from ${name} within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        waiting.push({
          type,
          resolve: (message) => {
            clearTimeout(timer);
            resolve(message);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${child.exitCode}) before a "${type}" message; stderr:\n${stderr}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        const timer = setTimeout(() => child.kill(), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
