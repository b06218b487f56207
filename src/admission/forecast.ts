// The `forecast` admission policy: a buffer for what the sample cannot show, not for what it already shows.
//
// `free` is usable minus every address held at the last sample, the cleanup tail included, and `reserved`
// covers the admissions granted since. The report's rolling max of `available` counts that tail a second
// time: on a subnet with a long tail it holds launches that would have fit. What can still take addresses
// between the sample and this launch is what neither number sees:
//   unseen  — workers of admissions whose reservation no longer counts (expired) but whose ENIs are not all
//             visible yet: their addresses may well be taken;
//   stale   — when the sample is older than two sample intervals, the subnet may have moved in ways nobody
//             recorded: fall back to the worst recent tail (the rolling max's caution);
//   margin  — MIN_BUFFER, for launches that bypass the gate (the report's manual runs in the wrong subnet).
//   buffer  = margin + unseen + stale
//   admit  iff free − reserved ≥ workers + buffer
// Pure: same DecisionInput as /admit plus optional fields the exporter has in memory; without them the
// policy is MIN_BUFFER plus nothing unseen, which is what a fresh sample and an empty ledger mean.
import type { EniView } from '../snapshot/types.js';
import { isLive, type Reservation } from '../store/types.js';
import { sourceValue, type Decision, type DecisionInput, type WindowEntry } from './policy.js';
import { coverage } from './reservations.js';

export interface ForecastInput extends DecisionInput {
  /** Seconds since the sample the decision reads was taken (the cache's age). */
  snapshotAgeSeconds?: number;
  /** Seconds between samples (from the sample schedule); default 60. */
  sampleIntervalSeconds?: number;
  /** The subnet's retained reservations (live, closed and expired, until retainUntil). */
  reservations?: readonly Reservation[];
  /** The subnet's ENIs in the sample (SubnetView.enis), to see which reservations are covered. */
  enis?: readonly EniView[];
  /** Decision time, epoch ms (for reservation expiry). */
  now?: number;
}

/** Workers of expired reservations whose ENIs have not all shown up. */
export function unseenWorkers(reservations: readonly Reservation[], enis: readonly EniView[], now: number): number {
  const cov = coverage(reservations, enis);
  let unseen = 0;
  for (const r of reservations) {
    // Live ones are already in `reserved`; released ones never launched; consumed ones are all visible.
    if (isLive(r, now) || r.closed !== undefined) continue;
    unseen += Math.max(0, r.workers - (cov.get(r.id) ?? 0));
  }
  return unseen;
}

export function decideForecast(input: ForecastInput): Decision {
  const { settings, workers, free, reserved } = input;
  const margin = settings.minBuffer;
  const unseen =
    input.reservations && input.enis && input.now !== undefined ? unseenWorkers(input.reservations, input.enis, input.now) : 0;
  const interval = input.sampleIntervalSeconds ?? 60;
  const stale = input.snapshotAgeSeconds !== undefined && input.snapshotAgeSeconds > 2 * interval;
  const window: WindowEntry[] = input.window.slice(0, settings.lookback).map((s) => {
    const e: WindowEntry = { observedAt: s.observedAt, value: sourceValue(s, 'tail') };
    if (s.dagRunId !== undefined) e.dagRunId = s.dagRunId;
    return e;
  });
  const peak = stale ? window.reduce((m, e) => Math.max(m, e.value), 0) : 0;
  const buffer = margin + unseen + peak;
  const room = free - reserved;
  const admit = room >= workers + buffer;
  const parts = [`margin ${margin}`, `unseen ${unseen}`];
  if (stale) parts.push(`stale sample (${Math.round(input.snapshotAgeSeconds!)} s): peak tail ${peak} over last ${window.length} observations`);
  return {
    admit,
    reason: `free ${free} − reserved ${reserved} ${admit ? '≥' : '<'} workers ${workers} + buffer ${buffer} (buffer = ${parts.join(' + ')})`,
    policy: settings.policy,
    bufferSource: 'tail',
    buffer,
    workers,
    free,
    reserved,
    headroom: Math.max(0, room - buffer),
    window: stale ? window : [],
  };
}
