/**
 * The core of every adapter's `shed()`: answer 503 with `Retry-After` while the loop (or a
 * pool) is overloaded, and serve a health route for load balancers and Kubernetes probes.
 *
 * A true sliding window: one sample per tick (loop delay, loop busy/idle time, pool wait),
 * kept for `window` ms and dropped after, so a week of calm cannot average a bad second away
 * (@fastify/under-pressure #294, whose utilisation is cumulative since start). The state is
 * computed on the tick, never per request: a request reads one cached object. No per-path or
 * per-client state (cardinality-safe). The tick's timer is unref'd: it keeps no process alive.
 */
import { performance } from 'node:perf_hooks';
import { getGlobal } from '../shared/globals.js';
import { InvalidOptionTypeError } from '../errors.js';
import { checkFunction, checkNumber, checkOptionsObject, checkString, describeValue } from '../shared/validate.js';

export interface ShedOptions {
  /** ms: shed while the loop delay's p99 over the window exceeds this. */
  maxDelay?: number;
  /** 0..1: shed while the loop's utilisation over the window exceeds this. */
  maxUtilization?: number;
  /** ms: shed while the live pools' task wait (p99 over the window) exceeds this. */
  maxPoolWait?: number;
  /** ms the limits are measured over (sliding), 100 to 600000. Default 5000. */
  window?: number;
  /** Seconds sent in `Retry-After`. Default 10. */
  retryAfter?: number;
  /** A path answering `GET`/`HEAD` with 200 or 503 and the reason as JSON; never shed itself. */
  health?: string;
  /** Called for each shed request with the framework's request and the reason; errors are swallowed. */
  onShed?: (req: unknown, reason: string) => void;
}

/**
 * ms: ten minutes is 6000 samples, sorted once per tick (well under a ms); a longer window
 * would cost the idle process more than the monitor's budget and react too slowly to shed.
 */
const MAX_WINDOW = 600_000;

const KNOWN = ['maxDelay', 'maxUtilization', 'maxPoolWait', 'window', 'retryAfter', 'health', 'onShed'] as const;

/** The figures over the window and the verdict. */
export interface ShedStatus {
  overloaded: boolean;
  /** Which limit is exceeded and by how much, e.g. `loop delay p99 312 ms > 100 ms`. */
  reason: string | undefined;
  /** ms. */
  delayP99: number;
  /** 0..1. */
  utilization: number;
  /** ms. */
  poolWait: number;
}

/** One tick's measurements. */
export interface ShedSample {
  /** ms on the window's clock when the sample was taken. */
  at: number;
  /** ms the tick came late. */
  delayMs: number;
  /** ms the loop was busy / idle since the previous sample. */
  activeMs: number;
  idleMs: number;
  /** ms: a task queued now would wait about this long (worst live pool). */
  poolWaitMs: number;
}

export interface ShedLimits {
  maxDelay: number;
  maxUtilization: number;
  maxPoolWait: number;
  window: number;
}

/** Samples of the last `window` ms in, the verdict out. Pure: no timer, no clock of its own. */
export class ShedWindow {
  readonly #limits: ShedLimits;
  #samples: ShedSample[] = [];
  #start = 0;
  // Reused per evaluation: one tick must not allocate in proportion to the window.
  #delays = new Float64Array(64);
  #waits = new Float64Array(64);

  constructor(limits: ShedLimits) {
    this.#limits = limits;
  }

  add(sample: ShedSample): void {
    this.#samples.push(sample);
  }

  /** The status over the samples taken in (now - window, now]; older ones are dropped for good. */
  evaluate(now: number): ShedStatus {
    const oldest = now - this.#limits.window;
    const samples = this.#samples;
    while (this.#start < samples.length && samples[this.#start]!.at <= oldest) this.#start++;
    // Compact now and then, so a long-running process keeps only the window's samples.
    if (this.#start > 256 && this.#start * 2 > samples.length) {
      this.#samples = samples.slice(this.#start);
      this.#start = 0;
    }
    const live = this.#samples;
    const count = live.length - this.#start;
    if (count > this.#delays.length) {
      this.#delays = new Float64Array(Math.max(count, this.#delays.length * 2));
      this.#waits = new Float64Array(this.#delays.length);
    }
    let active = 0;
    let idle = 0;
    for (let i = this.#start; i < live.length; i++) {
      const sample = live[i]!;
      this.#delays[i - this.#start] = sample.delayMs;
      this.#waits[i - this.#start] = sample.poolWaitMs;
      active += sample.activeMs;
      idle += sample.idleMs;
    }
    // Typed arrays sort numerically, in place.
    const delayP99 = percentile99(this.#delays.subarray(0, count).sort());
    const poolWait = percentile99(this.#waits.subarray(0, count).sort());
    const utilization = active + idle > 0 ? active / (active + idle) : 0;
    const { maxDelay, maxUtilization, maxPoolWait } = this.#limits;
    let reason: string | undefined;
    if (delayP99 > maxDelay) reason = `loop delay p99 ${Math.round(delayP99)} ms > ${maxDelay} ms`;
    else if (utilization > maxUtilization) reason = `loop utilization ${utilization.toFixed(2)} > ${maxUtilization}`;
    else if (poolWait > maxPoolWait) reason = `pool wait p99 ${Math.round(poolWait)} ms > ${maxPoolWait} ms`;
    return { overloaded: reason !== undefined, reason, delayP99, utilization, poolWait };
  }
}

function percentile99(sorted: Float64Array): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

/**
 * What a task queued now would wait in the busiest live pool: its queue ahead of it, shared
 * by its threads, each task taking the pool's typical run time. A pool's `waitMs` counts since
 * start, so it cannot be windowed; the queue is read now, so a sample is never stale.
 */
function poolWaitNow(): number {
  const live = getGlobal('livePools');
  if (live === undefined) return 0;
  let worst = 0;
  for (const pool of live.keys()) {
    try {
      const stats = pool.stats();
      if (stats.queued === 0 || stats.threads === 0) continue;
      const wait = Math.ceil(stats.queued / stats.threads) * Math.max(stats.runMs.p50, 0);
      if (wait > worst) worst = wait;
    } catch {
      // A pool that fails to report must not fail the request path.
    }
  }
  return worst;
}

/** What to answer instead of the app: status, headers and body (`undefined` for HEAD). */
export interface ShedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | undefined;
}

export interface ShedInternals {
  /** ms; default performance.now. */
  now?: () => number;
  /** Start the unref'd tick timer (default true); tests call tick() instead. */
  timer?: boolean;
  /** The loop and pool measurements of one tick; default the real ones. */
  sample?: () => Omit<ShedSample, 'at'>;
}

/** The validated options and the window behind one `shed()` middleware. */
export class Shedder {
  readonly retryAfter: number;
  readonly health: string | undefined;
  readonly #onShed: ((req: unknown, reason: string) => void) | undefined;
  readonly #window: ShedWindow;
  readonly #now: () => number;
  readonly #sample: () => Omit<ShedSample, 'at'>;
  #status: ShedStatus = { overloaded: false, reason: undefined, delayP99: 0, utilization: 0, poolWait: 0 };

  constructor(options: ShedOptions | undefined, internals: ShedInternals = {}) {
    const o = checkOptionsObject('shed() options', options, KNOWN);
    const window = o['window'] === undefined ? 5000 : checkNumber('window', o['window'], { min: 100, max: MAX_WINDOW, integer: true });
    const limits: ShedLimits = {
      maxDelay: o['maxDelay'] === undefined ? Infinity : checkNumber('maxDelay', o['maxDelay'], { min: 1 }),
      maxUtilization:
        o['maxUtilization'] === undefined ? Infinity : checkNumber('maxUtilization', o['maxUtilization'], { min: 0, max: 1 }),
      maxPoolWait: o['maxPoolWait'] === undefined ? Infinity : checkNumber('maxPoolWait', o['maxPoolWait'], { min: 0 }),
      window,
    };
    if (o['maxDelay'] === undefined && o['maxUtilization'] === undefined && o['maxPoolWait'] === undefined && o['health'] === undefined) {
      throw new InvalidOptionTypeError('shed() needs at least one of maxDelay, maxUtilization, maxPoolWait or health, got none');
    }
    this.retryAfter = o['retryAfter'] === undefined ? 10 : checkNumber('retryAfter', o['retryAfter'], { min: 0, integer: true });
    if (o['health'] !== undefined) {
      const health = checkString('health', o['health']);
      if (!health.startsWith('/')) throw new InvalidOptionTypeError(`health must be a path starting with /, got ${describeValue(health)}`);
      this.health = health;
    }
    this.#onShed = o['onShed'] === undefined ? undefined : checkFunction<(req: unknown, reason: string) => void>('onShed', o['onShed']);
    this.#window = new ShedWindow(limits);
    this.#now = internals.now ?? (() => performance.now());
    // Every 100 ms (ten samples a window at the least): the state is ready when a request
    // comes, and an idle process wakes only ten times a second.
    const tickMs = Math.min(100, Math.floor(window / 10));
    this.#sample = internals.sample ?? realSampler(tickMs, limits.maxPoolWait !== Infinity);
    if (internals.timer !== false) setInterval(() => this.tick(), tickMs).unref();
  }

  /** Take one sample and recompute the status. */
  tick(): void {
    const now = this.#now();
    this.#window.add({ at: now, ...this.#sample() });
    this.#status = this.#window.evaluate(now);
  }

  status(): ShedStatus {
    return this.#status;
  }

  /** The answer for a request, or undefined to let the app serve it. */
  decide(method: string, path: string, req: unknown): ShedAnswer | undefined {
    const status = this.#status;
    if (this.health !== undefined && path === this.health && (method === 'GET' || method === 'HEAD')) {
      const body = JSON.stringify({
        status: status.overloaded ? 'overloaded' : 'ok',
        reason: status.reason ?? null,
        delayP99: round(status.delayP99),
        utilization: round(status.utilization),
        poolWait: round(status.poolWait),
      });
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
      if (status.overloaded) headers['retry-after'] = String(this.retryAfter);
      return { status: status.overloaded ? 503 : 200, headers, body: method === 'HEAD' ? undefined : body };
    }
    if (!status.overloaded) return undefined;
    const reason = status.reason!;
    if (this.#onShed !== undefined) {
      try {
        const result = this.#onShed(req, reason) as unknown;
        // An async hook's rejection must not become an unhandled rejection either.
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, () => {});
        }
      } catch {
        // A broken hook must not break the answer.
      }
    }
    return {
      status: 503,
      headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(this.retryAfter) },
      body: method === 'HEAD' ? undefined : JSON.stringify({ error: 'overloaded', reason }),
    };
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;

/** The real measurements: how late this tick came, the loop's busy/idle time since the last. */
function realSampler(tickMs: number, pools: boolean): () => Omit<ShedSample, 'at'> {
  let last = performance.now();
  let elu: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.now();
    const next = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(next, elu);
    const delayMs = Math.max(0, now - last - tickMs);
    last = now;
    elu = next;
    return { delayMs, activeMs: delta.active, idleMs: delta.idle, poolWaitMs: pools ? poolWaitNow() : 0 };
  };
}

/** Validate up front, as each adapter's `shed()` does before returning its middleware. */
export function createShedder(options: ShedOptions | undefined): Shedder {
  return new Shedder(options);
}

/** Write an answer on a node:http response. */
export function sendNode(res: { statusCode: number; setHeader(name: string, value: string): unknown; end(body?: string): unknown }, answer: ShedAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.end(answer.body);
}
