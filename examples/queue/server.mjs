// An Express app whose POST /reports only creates a job and answers 202 at once (the seeds'
// rule: a long job never runs in a request), and whose GET /jobs/:id tells how it is going.
//   QUEUE_URL=postgres://… node examples/queue/server.mjs
import express from 'express';
import { startMonitor } from 'loopguard';
import { enqueue, jobStatus, loopguard } from 'loopguard/express';
import { queue, renderReport } from './tasks.mjs';

function createApp() {
  const app = express();
  app.use(loopguard());
  app.use(express.json());
  // 202 { id, state: 'queued', statusUrl } and a Location header, in a few ms.
  app.post('/reports', enqueue(renderReport, { queue, statusUrl: (id) => `/jobs/${id}` }));
  // queue.status(id) as JSON: { id, function, state, attempts, result?, error?, … }; 404 for an unknown id.
  app.get('/jobs/:id', jobStatus(queue));
  return app;
}

startMonitor();
const server = createApp().listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(`listening on ${url}`);
  console.log(`try: curl -X POST -H 'content-type: application/json' -d '{"month":"2026-11"}' ${url}/reports`);
});
