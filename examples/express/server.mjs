// A blocking Express route caught by loopguard, and the same route fixed with threaded().
//   node examples/express/server.mjs          serve on http://127.0.0.1:3000
//   node examples/express/server.mjs --once   call both routes once, print what happened, exit
import { spawn } from 'node:child_process';
import express from 'express';
import { startMonitor } from 'loopguard';
import { loopguard } from 'loopguard/express';
import { hashPassword, hashPasswordOffLoop } from './tasks.mjs';

const monitor = startMonitor({ threshold: 50 });

const app = express();
app.use(loopguard());

const users = express.Router();
// Blocks the loop for every request in flight: loopguard logs the route and hashPassword's stack.
users.get('/:id/blocking', (req, res) => {
  res.json({ id: req.params.id, hash: hashPassword(req.params.id) });
});
// The fix: the same function in a worker thread; the loop stays free.
users.get('/:id/fixed', async (req, res) => {
  res.json({ id: req.params.id, hash: await hashPasswordOffLoop(req.params.id) });
});
app.use('/users', users);

const once = process.argv.includes('--once');
const server = app.listen(once ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (!once) {
    console.log(`try: curl ${url}/users/42/blocking   and   curl ${url}/users/42/fixed`);
    return;
  }
  await drive(url, [['GET', '/users/42/blocking'], ['GET', '/users/42/fixed']]);
  printTopBlockers(monitor); // the blocking route is there, the fixed one is not
  server.close();
  await monitor.stop();
});

/**
 * The client of --once runs in a process of its own, so that its work (fetch) never shows up
 * as a block of this server's loop. It prints one line per request.
 */
function drive(url, requests) {
  const code = `for (const [method, path, body] of ${JSON.stringify(requests)}) {
    const text = Array.isArray(body) ? body[0].repeat(body[1]) : body; // [text, times]: built here, not in argv
    const response = await fetch(${JSON.stringify(url)} + path, { method, body: text, headers: text ? { 'content-type': 'text/plain' } : {} });
    console.log(method, path, '->', response.status, (await response.text()).slice(0, 120));
  }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', resolve));
}

function printTopBlockers(monitor) {
  console.log('top blockers:');
  for (const { site, route, count, maxMs } of monitor.topBlockers(5)) {
    console.log(`  ${route ?? '(no route)'}  ${site}  ×${count}, max ${Math.round(maxMs)} ms`);
  }
}
