/** The pg-boss backend's view of its rows: what it stores in a job and how a row reads back. */
import { diagnosticsChannel } from './diagnostics.js';
import { WorkerCrashedError } from '../../errors.js';
import type { JobSnapshot, JobState } from '../backend.js';
import { encodeError } from '../payload.js';

export const SCHEMA = 'pgboss';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_EXPIRE_SECONDS = 24 * 60 * 60;

/** A job's `data`. */
export interface JobData {
  fn: string;
  args: string;
  timeout: number;
  /** The caller's `retries`: attempts after the first that may end in an error of the function's. */
  retries: number;
}

/** A job's `output` column: ours (`result`, `error`, `progress`), or pg-boss's own (`message`). */
export interface StoredOutput {
  result?: string;
  error?: string;
  progress?: unknown;
  /** pg-boss's own, when it failed the job itself (`{ value: { message: 'job timed out' } }`). */
  message?: string;
  value?: { message?: string };
}

export interface JobRow {
  id: string;
  name: string;
  data: JobData | null;
  state: string;
  retry_count: number;
  created_on: Date;
  started_on: Date | null;
  completed_on: Date | null;
  output: StoredOutput | null;
}

export const JOB_COLUMNS = 'id, name, data, state, retry_count, created_on, started_on, completed_on, output';

/** Whole seconds, one more than the timeout, so that our own exact timer fires first. */
export function expireSeconds(timeout: number): number {
  return Math.min(MAX_EXPIRE_SECONDS, Math.ceil(timeout / 1000) + 1);
}

export function isSettled(state: string): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export function stateOf(state: string): JobState {
  if (state === 'created' || state === 'retry') return 'queued';
  return state as JobState;
}

export function snapshotOf(row: JobRow): JobSnapshot {
  const state = stateOf(row.state);
  const output = row.output ?? undefined;
  const snapshot: JobSnapshot = {
    id: row.id,
    fn: row.data?.fn ?? '',
    state,
    attempts: row.started_on === null ? 0 : row.retry_count + 1,
    createdAt: row.created_on,
  };
  if (state === 'completed' && typeof output?.result === 'string') snapshot.output = output.result;
  if (state === 'failed') snapshot.output = typeof output?.error === 'string' ? output.error : encodeError(failedByPgBoss(row));
  if (output?.progress !== undefined) snapshot.progress = output.progress;
  if (row.started_on !== null) snapshot.startedAt = row.started_on;
  if (row.completed_on !== null && isSettled(row.state)) snapshot.settledAt = row.completed_on;
  return snapshot;
}

/** A job pg-boss failed itself: its supervision expired the last attempt (the worker died or hung). */
function failedByPgBoss(row: JobRow): Error {
  const said = row.output?.value?.message ?? row.output?.message;
  return new WorkerCrashedError(
    `job ${row.id} (${row.data?.fn ?? 'unknown function'}) ran past its lease on its last attempt without settling: ` +
      `its worker died or stopped answering${typeof said === 'string' ? ` (pg-boss: ${said})` : ''}`,
  );
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What the backend was doing when an error nobody can be thrown reached it: pg-boss's own
 * `'error'` events (`client`: its pool's lost connections, its supervision's failed queries),
 * the result poller, the worker's fetch, settle and release.
 */
export type Operation = 'client' | 'poll' | 'fetch' | 'settle' | 'release';

/** What cannot be thrown to anyone (a lost connection, a failed poll) goes to diagnostics_channel. */
export function publish(queue: string, error: unknown, operation: Operation): void {
  if (diagnosticsChannel.hasSubscribers) diagnosticsChannel.publish({ queue, backend: 'pg-boss', operation, error });
}
