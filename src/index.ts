// The public barrel: named exports only, no side effects (only loopguard/register has any).
export { startMonitor } from './monitor/monitor.js';
export { withContext, guard, currentContext } from './context.js';
export { createPool, ThreadPool } from './pool/main/pool.js';
export { threaded, runInThreadpool, transfer } from './pool/marking/threaded.js';
export { explainHandles } from './zero-code/explain.js';
export {
  LoopguardError,
  InvalidOptionTypeError,
  InvalidOptionRangeError,
  FunctionNotPortableError,
  TaskTimeoutError,
  PoolQueueFullError,
  WorkerCrashedError,
  PoolClosedError,
  BlockingCallError,
  BlockedError,
} from './errors.js';
export type {
  BlockEvent,
  BlockContext,
  StackFrame,
  LoopStats,
  LibuvStats,
  DelayStats,
  BlockerSummary,
  TimelinePoint,
  IgnoreRules,
  Logger,
  MonitorOptions,
  Monitor,
} from './types.js';
export type { PoolOptions, PoolStats, RunOptions } from './pool/main/pool.js';
export type { ThreadedOptions, ThreadedFunction, ThreadedQueue } from './pool/marking/threaded.js';
