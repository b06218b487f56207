// Everything that happens in the simulated world, as one discriminated union. The world queues an event for the
// time it falls due and applies it then; the listener is told of those that change what a reader could see.
import type { JobRun, LaunchRequest } from './records.js';

export type WorldEvent =
  /** Queued with id '' (a schedule's next firing, an ad-hoc draw); reported with its id once due. */
  | { type: 'launch-due'; at: number; request: LaunchRequest }
  /** Queued only: draw one UTC day's ad-hoc launches. */
  | { type: 'adhoc-day'; at: number; day: number }
  /** Reported: a run started (its ENIs created), or failed at once for want of addresses. */
  | { type: 'run-started'; at: number; run: JobRun }
  | { type: 'run-failed'; at: number; run: JobRun }
  /** Queued for the run's planned end (void if it was stopped meanwhile); reported when it succeeds or stops. */
  | { type: 'run-ended'; at: number; run: JobRun }
  /** Queued only: a stopping run reaches STOPPED, reported as run-ended. */
  | { type: 'run-stopped'; at: number; run: JobRun }
  /** Reported: an ENI now holds its addresses. */
  | { type: 'eni-created'; at: number; eniId: string; subnetId: string }
  /** Queued only: a launch's ENI attaches. Not reported (a backtest mirror re-reads the world when touched). */
  | { type: 'eni-attached'; at: number; eniId: string; subnetId: string; runId: string }
  /** Queued when drawn (void if the ENI is gone or already available); reported when it happens. */
  | { type: 'eni-detached'; at: number; eniId: string; subnetId: string }
  /** Queued when the ENI became available (Glue deletes it); reported on any deletion, API ones included. */
  | { type: 'eni-deleted'; at: number; eniId: string; subnetId: string };
