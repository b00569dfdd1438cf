/**
 * V8's structured call sites (`NodeJS.CallSite`) of whoever called `below`, read without
 * formatting a stack string (or source-mapping it, under --enable-source-maps): the cheap way
 * to learn where a call came from. At most `limit` frames.
 */
export function callSitesOf(below: Function, limit: number): NodeJS.CallSite[] {
  const holder: { stack?: unknown } = {};
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_error, sites) => sites;
  Error.stackTraceLimit = limit;
  try {
    Error.captureStackTrace(holder, below);
    // Read while our prepareStackTrace is in place: V8 formats the stack on first access.
    return (holder.stack as NodeJS.CallSite[] | undefined) ?? [];
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
}
