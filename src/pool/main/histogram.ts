/**
 * A histogram of durations in a typed array, for `stats()`: recording is a few arithmetic
 * operations. perf_hooks' histogram cost a validated call into C++, twice per task, which was
 * ~5% of the main thread's time for tiny tasks. Buckets are exact below 64 µs, then 32 per
 * power of two (within ~3%); `max` is exact.
 */
const LINEAR = 64; // µs recorded exactly
const SUBBUCKETS = 32; // per power of two above LINEAR
const LINEAR_BITS = 6; // log2(LINEAR)
const MAX_EXPONENT = 53;

export class DurationHistogram {
  count = 0;
  /** Largest value recorded, in µs. */
  max = 0;
  readonly #counts = new Float64Array(LINEAR + (MAX_EXPONENT - LINEAR_BITS + 1) * SUBBUCKETS);

  /** Record `ms` milliseconds (as µs, at least 1). */
  record(ms: number): void {
    const micros = Math.max(1, ms * 1000);
    this.count++;
    if (micros > this.max) this.max = micros;
    this.#counts[bucketOf(micros)]!++;
  }

  /** The value in ms below which `percent` % of the recorded values fall (0 when empty). */
  percentile(percent: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((this.count * percent) / 100));
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= rank) return Math.min(this.max, valueOf(bucket)) / 1000;
    }
    return this.max / 1000;
  }
}

function bucketOf(micros: number): number {
  if (micros < LINEAR) return Math.floor(micros);
  if (micros < 2 ** 31) {
    // Integer bit tricks (no Math.log2, no powers): the exponent from the leading zeros, the
    // sub-bucket from the 5 bits after the leading one.
    const whole = micros | 0;
    const exponent = 31 - Math.clz32(whole);
    return LINEAR + (exponent - LINEAR_BITS) * SUBBUCKETS + ((whole >>> (exponent - 5)) & (SUBBUCKETS - 1));
  }
  const exponent = Math.min(MAX_EXPONENT, Math.floor(Math.log2(micros)));
  const fraction = Math.min(SUBBUCKETS - 1, Math.floor((micros / 2 ** exponent - 1) * SUBBUCKETS));
  return LINEAR + (exponent - LINEAR_BITS) * SUBBUCKETS + fraction;
}

/** The middle of a bucket, in µs. */
function valueOf(bucket: number): number {
  if (bucket < LINEAR) return bucket + 0.5;
  const exponent = LINEAR_BITS + Math.floor((bucket - LINEAR) / SUBBUCKETS);
  const fraction = (bucket - LINEAR) % SUBBUCKETS;
  return 2 ** exponent * (1 + (fraction + 0.5) / SUBBUCKETS);
}
