// The demo service. It knows nothing of the monitor: run.mjs starts it under the loopguard
// CLI. With DEMO_FIXED=1 it hashes with the threaded() version instead of on the loop.
import { createServer } from 'node:http';
import { hashPassword } from './hash.mjs';

const fixed = process.env.DEMO_FIXED === '1';
const hash = fixed ? (await import('./tasks.mjs')).hashPasswordOffLoop : hashPassword;

const server = createServer(async (req, res) => {
  const match = /^\/users\/(\d+)$/.exec(req.url ?? '');
  if (match === null) {
    res.end('ok\n');
    return;
  }
  const digest = await hash(`password-of-${match[1]}`);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id: Number(match[1]), digest }));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
