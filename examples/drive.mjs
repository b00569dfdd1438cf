// What the framework examples share for `--once`: a client in a process of its own and a
// print-out of the monitor's top blockers.
import { spawn } from 'node:child_process';

/**
 * Send `requests` (`[method, path, body?]`, where a body `[text, times]` is repeated in the
 * client) to `url` one after another and print one line per request. The client runs in a
 * process of its own, so that its work (fetch) never shows up as a block of the server's loop.
 */
export function drive(url, requests) {
  const code = `for (const [method, path, body] of ${JSON.stringify(requests)}) {
    const text = Array.isArray(body) ? body[0].repeat(body[1]) : body; // [text, times]: built here, not in argv
    const response = await fetch(${JSON.stringify(url)} + path, { method, body: text, headers: text ? { 'content-type': 'text/plain' } : {} });
    console.log(method, path, '->', response.status, (await response.text()).slice(0, 120));
  }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', resolve));
}

export function printTopBlockers(monitor) {
  console.log('top blockers:');
  for (const { site, route, count, maxMs } of monitor.topBlockers(5)) {
    console.log(`  ${route ?? '(no route)'}  ${site}  ×${count}, max ${Math.round(maxMs)} ms`);
  }
}
