// The watchdog's fixed costs: resident memory of an idle process, and how soon after a block
// starts the stack is in hand.
import { fixed, forkFixture, formatTable, median } from './lib.mjs';

const idleFile = new URL('./idle.mjs', import.meta.url);
const captureFile = new URL('./capture.mjs', import.meta.url);
const RSS_VARIANTS = ['bare', 'loopguard'];
const THRESHOLD = 50;
const BLOCK_MS = 500;

export async function runRss(config, log) {
  const samples = Object.fromEntries(RSS_VARIANTS.map((v) => [v, []]));
  const cpuSamples = Object.fromEntries(RSS_VARIANTS.map((v) => [v, []]));
  const skipped = {};
  for (let rep = 0; rep < config.rssReps; rep += 1) {
    const order = rep % 2 === 0 ? RSS_VARIANTS : [...RSS_VARIANTS].reverse();
    for (const variant of order) {
      if (skipped[variant]) continue;
      const fixture = forkFixture(idleFile, [variant], { execArgv: ['--expose-gc'] });
      try {
        const message = await fixture.next('memory', 'unavailable');
        if (message.type === 'unavailable') { skipped[variant] = message.reason; log(`  ${variant}: skipped — ${message.reason}`); continue; }
        samples[variant].push(message.rss);
        cpuSamples[variant].push(message.idleCpuMsPerS);
      } finally {
        await fixture.close();
      }
    }
  }
  const rows = RSS_VARIANTS.map((variant) => (skipped[variant]
    ? { variant, skipped: skipped[variant] }
    : {
        variant,
        rss: median(samples[variant]),
        samples: samples[variant],
        idleCpuMsPerS: median(cpuSamples[variant]),
        idleCpuSamples: cpuSamples[variant],
      }));
  return { rows, bare: rows[0].rss, bareIdleCpu: rows[0].idleCpuMsPerS };
}

async function captureRun(variant, config) {
  const fixture = forkFixture(captureFile, [variant, String(config.captureBlocks), String(THRESHOLD), String(BLOCK_MS)], { timeoutMs: 60000 });
  try {
    const message = await fixture.next('capture', 'unavailable');
    return message.type === 'unavailable' ? { unavailable: message.reason } : message.results;
  } finally {
    await fixture.close();
  }
}

/** Jumps less than this apart after the first late one are taken as one burst of watchdog work. */
const CLUSTER_GAP_MS = 30;

/**
 * Summarise one block's jumps: the ones from THRESHOLD/2 on can be the watchdog's doing (the
 * heartbeat may be up to one beat old when the block starts). The burst is the first late jump
 * and those that follow it within CLUSTER_GAP_MS of each other.
 */
function summarise(block) {
  const late = block.jumps.filter((j) => j.at >= THRESHOLD / 2);
  let burstEnd = NaN;
  let burstMs = 0;
  for (const jump of late) {
    if (Number.isFinite(burstEnd) && jump.at - burstEnd > CLUSTER_GAP_MS) break;
    burstEnd = jump.at + jump.length;
    burstMs += jump.length;
  }
  const capturedAt = block.event?.capturedAtMs ?? NaN;
  const pause = block.jumps.find((j) => j.at <= capturedAt && capturedAt <= j.at + j.length);
  return {
    jumps: block.jumps.length,
    stolenMs: block.jumps.reduce((sum, j) => sum + j.length, 0),
    firstAt: late[0] ? late[0].at : NaN,
    burstEnd,
    burstMs,
    capturedAt,
    pauseMs: pause ? pause.length : NaN,
    otherThreadsCpuMs: block.otherThreadsCpuMs,
    heldMs: block.jumps.filter((j) => j.at >= THRESHOLD / 2).reduce((sum, j) => sum + (j.held ?? j.length), 0),
    longestHeldMs: Math.max(0, ...block.jumps.filter((j) => j.at >= THRESHOLD / 2).map((j) => j.held ?? j.length)),
    stackAtMs: block.stackAtMs ?? NaN,
    enables: block.enables ?? NaN,
  };
}

export async function runCapture(config, log) {
  // Rounds of one bare and one monitored process, order flipped each round, so both sides see
  // the same host load (the host's own preemptions otherwise dominate the jump columns).
  // `loopguard`: the block runs in a withContext() context, which the quick stack reads (no
  // debugger); `loopguard-nocontext`: no context, so the request walk enables the debugger.
  const bare = [];
  let monitored = [];
  const uncontexted = [];
  const VARIANTS = ['bare', 'loopguard', 'loopguard-nocontext'];
  for (let round = 0; round < config.captureRounds && !monitored.unavailable; round += 1) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const results = await captureRun(variant, config);
      if (results.unavailable) { monitored = results; break; }
      (variant === 'bare' ? bare : variant === 'loopguard' ? monitored : uncontexted).push(...results);
    }
  }
  const lines = [`Block start → stack capture (${config.captureRounds} × ${config.captureBlocks} busy loops of ${BLOCK_MS} ms per variant at threshold ${THRESHOLD} ms)`];
  if (monitored.unavailable) {
    log(`  loopguard: skipped — ${monitored.unavailable}`);
    lines.push(`loopguard: skipped — ${monitored.unavailable}`);
  }
  const rows = [];
  for (const [variant, results] of [['bare (control)', bare], ['loopguard, context known', monitored], ['loopguard, no context (walk)', uncontexted]]) {
    if (results.unavailable) continue;
    const summaries = results.map(summarise);
    const events = results.map((r) => r.event).filter(Boolean);
    const onlyMonitored = (text) => (variant.startsWith('loopguard') ? text : '');
    rows.push([
      variant,
      `${summaries.filter((s) => Number.isFinite(s.firstAt)).length}/${summaries.length}`,
      fixed(median(summaries.map((s) => s.jumps)), 0),
      fixed(median(summaries.map((s) => s.stolenMs))),
      fixed(median(summaries.map((s) => s.firstAt))),
      fixed(median(summaries.map((s) => s.burstEnd))),
      fixed(median(summaries.map((s) => s.burstMs))),
      onlyMonitored(fixed(median(summaries.map((s) => s.capturedAt)))),
      onlyMonitored(fixed(median(summaries.map((s) => s.pauseMs)))),
      fixed(median(summaries.map((s) => s.otherThreadsCpuMs))),
      onlyMonitored(`${events.length}/${results.length}`),
      onlyMonitored(`${events.filter((e) => e.namesSpin).length}/${results.length}`),
      onlyMonitored(fixed(median(events.map((e) => e.duration)), 0)),
      onlyMonitored(fixed(median(results.filter((r) => r.event).map((r) => r.event.startedAt - r.startedAt)), 0)),
      onlyMonitored(fixed(median(summaries.map((s) => s.stackAtMs)))),
      onlyMonitored(fixed(Math.max(...summaries.map((s) => s.stackAtMs).filter(Number.isFinite)))),
      fixed(median(summaries.map((s) => s.heldMs))),
      fixed(median(summaries.map((s) => s.longestHeldMs))),
      onlyMonitored(fixed(median(summaries.map((s) => s.enables)), 1)),
    ]);
  }
  lines.push(formatTable(
    ['variant', `blocks with a jump ≥ ${THRESHOLD / 2} ms`, 'jumps', 'stolen ms', 'first late jump at', 'burst ends at', 'burst ms',
      'frames read at', 'pause ms', 'CPU − wall ms', 'events', 'stack names the loop', 'event duration', 'event startedAt − real start',
      'stack in hand at', 'max stack in hand at', `held ms (from ${THRESHOLD / 2} ms)`, 'longest hold', 'debugger enables'],
    rows,
  ));
  lines.push('All times in ms after the block began, medians. A "jump" is a gap ≥ 1 ms between two back-to-back performance.now()',
    'reads in the busy loop: the main thread was interrupted (Debugger.enable, the pause in which frames are read, resume,',
    'Debugger.disable) or descheduled by the host — the bare control shows how often the host alone does that. "first late',
    'jump at": the watchdog first touching the main thread; "burst ends at": the end of the jumps that follow it less than',
    `${CLUSTER_GAP_MS} ms apart ("burst ms": the time lost in them); "frames read at": a toJSON() probe in the block's withContext() context, run by the watchdog's`,
    'context read on the paused main thread (the stack is in hand then); "pause ms": the jump that contains that moment;',
    '"CPU − wall ms": the process\'s CPU time (all threads) over the block minus the block\'s wall time — other threads\' work,',
    'the watchdog\'s above the control\'s (negative when the host descheduled the main thread).',
    '"stack in hand at": when the quick stack ran on the main thread (its span-reader call); "held ms": the late jumps less the',
    'main thread\'s wait for a CPU in them (Linux schedstat): the main thread\'s time taken by the watchdog; "longest hold": the',
    'longest such jump; "debugger enables": Slot.DEBUGGER_ENABLES per block (0 when the quick stack named the context).');
  const extras = monitored.unavailable ? [] : monitored.map((r) => r.event?.extra).filter((e) => e && Object.keys(e).length);
  if (extras.length) lines.push(`event numeric fields beyond startedAt/duration: ${JSON.stringify(extras[0])}`);
  return { lines, bare, monitored, uncontexted };
}
