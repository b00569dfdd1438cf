// Shared by the tests that feed events straight into the monitor's internal `report()` (what
// the sync-call wrapper uses): deterministic, no blocking needed.
import { afterEach, vi } from 'vitest';
import { startMonitor, type BlockEvent, type Monitor, type MonitorOptions } from 'loopguard';

export interface Internal extends Monitor {
  report(event: BlockEvent): void;
  warn(fields: object, message: string): void;
}

/** A `start(options)` for this test file; each test's monitor is stopped after it. */
export function useReportingMonitor(): (options: MonitorOptions) => Internal {
  let monitor: Internal | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await monitor?.stop();
    monitor = undefined;
  });
  return (options) => {
    monitor = startMonitor({ stacks: false, ...options }) as Internal;
    return monitor;
  };
}

/** A block in `hashPassword` during `GET /users/:id`, with `overrides`. */
export function event(overrides: Partial<BlockEvent> = {}): BlockEvent {
  return {
    kind: 'block',
    duration: 300,
    threshold: 100,
    startedAt: Date.now(),
    stack: [
      { function: 'hashPassword', file: `${process.cwd()}/app/auth.ts`, line: 42, column: 10 },
      { function: 'handler', file: `${process.cwd()}/app/routes/users.ts`, line: 17, column: 3 },
    ],
    context: { method: 'GET', route: '/users/:id', path: '/users/42' },
    cause: 'js',
    ...overrides,
  };
}

/** What the monitor writes to stderr from now on (restored after each test). */
export function captureStderr(): string[] {
  const written: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return written;
}
