// An ordinary node:http service that knows nothing of loopguard. GET /reports/:year builds
// a report synchronously: the kind of code that stalls every other request.
import { createServer } from 'node:http';

function buildYearReport(year) {
  // ~300 ms of CPU on the main thread, standing in for a big synchronous computation.
  let checksum = 0;
  const end = Date.now() + 300;
  while (Date.now() < end) checksum = (checksum * 31 + year) % 1_000_003;
  return { year, checksum };
}

const server = createServer((req, res) => {
  const match = /^\/reports\/(\d{4})$/.exec(req.url ?? '');
  if (match) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(buildYearReport(Number(match[1]))));
    return;
  }
  res.end('try GET /reports/2024\n');
});

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/reports/2024` })}\n`);
});
