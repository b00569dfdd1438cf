// A real Redis for the queue tests: Debian's `redis-server`, started by the test itself on a
// free port in a temp dir, so nothing depends on a Redis the developer happens to run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_INSTALL = 'apt-get install -y redis-server';

/** The redis-server binary, or undefined when the machine has none. */
export function findRedisServer(
  // LOOPGUARD_REDIS_SERVER names the binary (and only it: `=/nonexistent` shows the skip path).
  candidates: ReadonlyArray<string | undefined> = process.env.LOOPGUARD_REDIS_SERVER
    ? [process.env.LOOPGUARD_REDIS_SERVER]
    : ['/usr/bin/redis-server', 'redis-server'],
): string | undefined {
  for (const candidate of candidates) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/**
 * Whether the Redis tests run here: without redis-server they are reported as skipped with the
 * install command in their name, except in CI (LOOPGUARD_REQUIRE_REDIS=1), where its absence
 * must fail rather than pass silently.
 */
export function redisAvailability(candidates?: ReadonlyArray<string | undefined>): { run: boolean; skipReason: string } {
  const binary = findRedisServer(candidates);
  if (binary || process.env.LOOPGUARD_REQUIRE_REDIS === '1') return { run: true, skipReason: '' };
  return { run: false, skipReason: `skipped: needs redis-server — ${REDIS_INSTALL}` };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** One raw RESP PING; resolves true on +PONG. A raw socket keeps the harness free of any client. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
  });
}

export interface RedisServerOptions {
  /** Keep data across restart(): append-only file on (for the "Redis restarted while jobs wait" fault). */
  persistent?: boolean;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stop (SIGTERM, which makes a persistent server write its data) and start again on the same port. */
  restart(): Promise<void>;
  /** Kill without saving anything. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error(`redis-server is not installed: ${REDIS_INSTALL}`);
  const dir = mkdtempSync(join(tmpdir(), 'loopguard-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async () => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', options.persistent ? 'yes' : 'no',
      // fsync every write: the restart fault must not lose the last jobs sent.
      ...(options.persistent ? ['--appendfsync', 'always'] : []),
      '--daemonize', 'no',
      '--loglevel', 'warning',
    ];
    const started = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}: ${stderr}`);
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    started.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port} within 15 s: ${stderr}`);
  };

  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
    async kill() {
      await halt('SIGKILL');
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
