// Small helpers shared by the overhead driver: child processes, medians, tables.
import { fork } from 'node:child_process';
import { once } from 'node:events';

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function envNumber(name, fallback, { min = 0 } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function envList(name, fallback, known) {
  const raw = process.env[name];
  if (!raw) return fallback;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of list) {
    if (!known.includes(item)) throw new RangeError(`${name}: unknown ${JSON.stringify(item)}; known: ${known.join(', ')}`);
  }
  return list;
}

/**
 * Fork a fixture with an IPC channel; stderr is collected (a tool that logs under load pays for
 * it, and the table says how many lines it wrote). Rejects if the child dies before `settle`.
 */
export function forkFixture(file, args, { execArgv = [], timeoutMs = 30000, execPath = process.execPath } = {}) {
  const child = fork(file, args, { execArgv, execPath, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = once(child, 'exit');
  const messages = [];
  const waiters = [];
  child.on('message', (message) => {
    const index = waiters.findIndex((w) => w.type === message.type || w.type === '*');
    if (index === -1) messages.push(message);
    else waiters.splice(index, 1)[0].resolve(message);
  });
  function next(...types) {
    const queued = messages.findIndex((m) => types.includes(m.type));
    if (queued !== -1) return Promise.resolve(messages.splice(queued, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} ${args.join(' ')}: no ${types.join('|')} message within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      for (const type of types) {
        waiters.push({ type, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      }
      exited.then(([code, signal]) => {
        clearTimeout(timer);
        reject(new Error(`${file} ${args.join(' ')} exited (${code ?? signal}) before ${types.join('|')}\n${stderr}`));
      });
    });
  }
  async function close() {
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) child.disconnect();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
  }
  return { child, next, close, stderr: () => stderr };
}

export function formatTable(header, rows) {
  const all = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(all[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

export const fixed = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const ratio = (value, base) => (Number.isFinite(value) && Number.isFinite(base) && base > 0 ? `${(value / base).toFixed(2)}×` : 'n/a');
