// A blocking Express route caught by loopguard, and the same route fixed with threaded().
//   node examples/express/server.mjs          serve on http://127.0.0.1:3000
//   node examples/express/server.mjs --once   call both routes once, print what happened, exit
import express from 'express';
import { startMonitor } from 'loopguard';
import { loopguard } from 'loopguard/express';
import { hashPassword, hashPasswordOffLoop } from './tasks.mjs';
import { drive, printTopBlockers } from '../drive.mjs';

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
