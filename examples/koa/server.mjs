// Koa with @koa/router: a blocking route reported with its pattern, and the offloaded fix.
//   node examples/koa/server.mjs          serve on http://127.0.0.1:3000
//   node examples/koa/server.mjs --once   call both routes once, print what happened, exit
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { startMonitor } from 'loopguard';
import { loopguard, offload } from 'loopguard/koa';
import { countPrimes, primesReport } from './tasks.mjs';
import { drive, printTopBlockers } from '../drive.mjs';

const monitor = startMonitor({ threshold: 50 });

const app = new Koa();
app.use(loopguard());
const router = new Router({ prefix: '/primes' });
router.get('/blocking', (ctx) => {
  const limit = Number(ctx.query.limit ?? 2_000_000);
  ctx.body = { limit, primes: countPrimes(limit) }; // reported as GET /primes/blocking
});
router.get('/offloaded', offload(primesReport));
app.use(router.routes());

const once = process.argv.includes('--once');
const server = createServer(app.callback());
server.listen(once ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (!once) {
    console.log(`try: curl ${url}/primes/blocking   and   curl ${url}/primes/offloaded`);
    return;
  }
  await drive(url, [['GET', '/primes/blocking'], ['GET', '/primes/offloaded']]);
  printTopBlockers(monitor); // GET /primes/blocking is there, the offloaded route is not
  server.close();
  await monitor.stop();
});
