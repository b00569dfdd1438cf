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
      } finally {
        await fixture.close();
      }
    }
  }
  const rows = RSS_VARIANTS.map((variant) => (skipped[variant]
    ? { variant, skipped: skipped[variant] }
    : { variant, rss: median(samples[variant]), samples: samples[variant] }));
  return { rows, bare: rows[0].rss };
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

/** Summarise one block's jumps: the ones from THRESHOLD/2 on can be the watchdog's doing. */
function summarise(block) {
  const late = block.jumps.filter((j) => j.at >= THRESHOLD / 2);
  const first = late[0];
  const last = late.at(-1);
  return {
    jumps: block.jumps.length,
    stolenMs: block.jumps.reduce((sum, j) => sum + j.length, 0),
    firstAt: first ? first.at : NaN,
    lastEnd: last ? last.at + last.length : NaN,
    longest: late.reduce((max, j) => Math.max(max, j.length), 0),
  };
}

export async function runCapture(config, log) {
  const bare = await captureRun('bare', config);
  const monitored = await captureRun('loopguard', config);
  const lines = [`Block start → stack capture (${config.captureBlocks} busy loops of ${BLOCK_MS} ms at threshold ${THRESHOLD} ms; medians)`];
  if (monitored.unavailable) {
    log(`  loopguard: skipped — ${monitored.unavailable}`);
    lines.push(`loopguard: skipped — ${monitored.unavailable}`);
  }
  const rows = [];
  for (const [variant, results] of [['bare (control)', bare], ['loopguard', monitored]]) {
    if (results.unavailable) continue;
    const summaries = results.map(summarise);
    const events = results.map((r) => r.event).filter(Boolean);
    rows.push([
      variant,
      `${summaries.filter((s) => Number.isFinite(s.firstAt)).length}/${summaries.length}`,
      fixed(median(summaries.map((s) => s.jumps)), 0),
      fixed(median(summaries.map((s) => s.stolenMs))),
      fixed(median(summaries.map((s) => s.firstAt))),
      fixed(median(summaries.map((s) => s.lastEnd))),
      fixed(median(summaries.map((s) => s.longest))),
      variant === 'loopguard' ? `${events.length}/${results.length}` : '',
      variant === 'loopguard' ? `${events.filter((e) => e.namesSpin).length}/${results.length}` : '',
      variant === 'loopguard' ? fixed(median(events.map((e) => e.duration)), 0) : '',
      variant === 'loopguard' ? fixed(median(results.filter((r) => r.event).map((r) => r.event.startedAt - r.startedAt)), 0) : '',
    ]);
  }
  lines.push(formatTable(
    ['variant', `blocks with a jump ≥ ${THRESHOLD / 2} ms`, 'jumps', 'stolen ms', 'first jump at ms', 'last jump ends ms', 'longest jump ms', 'events', 'stack names loop', 'event duration', 'event startedAt − real start ms'],
    rows,
  ));
  lines.push('Times are ms after the block began; "first jump at" and "last jump ends" are medians over the blocks that had a late jump.',
    'A "jump" is a gap ≥ 1 ms between two back-to-back performance.now() reads in the busy loop: the main thread was',
    'interrupted (Debugger.enable, the pause in which the frames are read, resume) or descheduled by the host. "first jump at"',
    'is when the watchdog first touched the main thread after the block began; the capture is complete by "last jump ends".');
  const extras = monitored.unavailable ? [] : monitored.map((r) => r.event?.extra).filter((e) => e && Object.keys(e).length);
  if (extras.length) lines.push(`event numeric fields beyond startedAt/duration: ${JSON.stringify(extras[0])}`);
  return { lines, bare, monitored };
}
