// examples/queue/run.mjs end to end, as a user runs it: the Express app answers POST /reports
// with 202 at once, a `loopguard worker` process builds the report, and GET /jobs/:id follows
// it to the result. On PostgreSQL the example starts its own embedded server (the one command
// of the README); on Redis it is given the test's redis-server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { supportsPgBoss } from './postgres.global.js';
import { redisAvailability, startRedisServer, type RedisServer } from './redis-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const redis = redisAvailability();
let server: RedisServer | undefined;
afterAll(async () => {
  await server?.stop();
});

async function runExample(queueUrl: string | undefined): Promise<{ code: number | null; stdout: string }> {
  const env = { ...process.env };
  delete env['LOOPGUARD_QUEUE_URL'];
  if (queueUrl === undefined) delete env['QUEUE_URL'];
  else env['QUEUE_URL'] = queueUrl;
  const child = spawn(process.execPath, ['examples/queue/run.mjs'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout };
}

function expectReport({ code, stdout }: { code: number | null; stdout: string }): void {
  expect(code, stdout).toBe(0);
  expect(stdout).toMatch(/^POST \/reports -> 202 in \d+ ms: \{"id":"[^"]+","state":"queued","statusUrl":"\/jobs\/[^"]+"\}$/m);
  // The progress the job reported from its thread (every 500,000 rows), kept once it completed.
  expect(stdout).toMatch(/^GET \/jobs\/\S+ -> 200 completed \(attempt 1\), progress \d+\/3000000 rows$/m);
  const result = JSON.parse(/^result: (.*)$/m.exec(stdout)?.[1] ?? 'null') as Record<string, unknown>;
  // The BigInt total and the Map by region crossed the queue and reached JSON as text and an object.
  expect(result).toMatchObject({ month: '2026-11', rows: 3_000_000, totalCents: expect.stringMatching(/^\d+$/) });
  expect(Object.keys(result['byRegion'] as object).sort()).toEqual(['east', 'north', 'south', 'west']);
}

describe('examples/queue', () => {
  it.skipIf(!supportsPgBoss())(
    `starts embedded PostgreSQL, a worker and the app, and follows a report to its result${supportsPgBoss() ? '' : ' (skipped: needs Node ≥ 22.12)'}`,
    async () => {
      expectReport(await runExample(undefined));
    },
    120_000,
  );

  it.skipIf(!redis.run)(`runs the same on Redis${redis.skipReason ? ` (${redis.skipReason})` : ''}`, async () => {
    server = await startRedisServer();
    expectReport(await runExample(server.url));
  }, 120_000);
});
