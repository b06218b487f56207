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
//   margin  — for launches that bypass the gate (the report's manual runs in the wrong subnet): the most
//             addresses bypasses took within any two sample intervals over the last bypassMemoryDays,
//             learned per subnet (bypass.ts); MIN_BUFFER until the subnet has been watched for a day (a
//             daily cycle shows the bypasses of office hours; the memory keeps growing to the full horizon).
//   buffer  = margin + unseen + stale
//   admit  iff free − reserved ≥ workers + buffer
// Pure: same DecisionInput as /admit plus optional fields the exporter has in memory; without them the
// policy is MIN_BUFFER plus nothing unseen, which is what a fresh sample and an empty ledger mean.
import { DAY_MS } from '../clock.js';
import { bypassHorizonMs, learnedMargin } from './bypass.js';
import { unseenWorkers } from './reservations.js';
import type { DecisionInput, ForecastExtras, WindowEntry } from './types.js';
import { windowEntries } from './window.js';

export type { ForecastExtras } from './types.js';

export type ForecastInput = DecisionInput & ForecastExtras;

/**
 * Watched time after which the learned margin is trusted (capped by bypassMemoryDays). A week of minBuffer
 * cost the shared /26 of the backtest ~26 runs in 90 days (docs/backtest.md); one day of work shows who
 * launches by hand, and the margin keeps learning from the whole memory after that.
 */
export const TRUST_BYPASSES_AFTER_MS = DAY_MS;

/** The buffer and how it was reached, in the shape policy.ts's bufferFor returns. */
export function forecastBuffer(input: ForecastInput): { buffer: number; window: WindowEntry[]; why: string } {
  const { settings } = input;
  const unseen = input.reservations && input.enis && input.now !== undefined ? unseenWorkers(input.reservations, input.enis, input.now) : 0;
  const interval = input.sampleIntervalSeconds ?? 60;
  const days = settings.bypassMemoryDays;
  const horizon = bypassHorizonMs(days);
  const trustAfter = Math.min(horizon, TRUST_BYPASSES_AFTER_MS);
  const learned = learnedMargin(input.bypass, input.now ?? 0, horizon, 2 * interval * 1000, trustAfter);
  const margin = learned.learned ? learned.margin : settings.minBuffer;
  const marginWhy = learned.learned
    ? `margin ${margin} (most bypass addresses in 2 samples over ${days} d)`
    : `margin ${margin} (min buffer: ${(learned.watchedMs / DAY_MS).toFixed(1)} of ${trustAfter / DAY_MS} d of bypasses watched)`;
  const age = input.snapshotAgeSeconds;
  const stale = age !== undefined && age > 2 * interval;
  const parts = [marginWhy, `unseen ${unseen}`];
  let peak = 0;
  let window: WindowEntry[] = [];
  if (stale) {
    window = windowEntries(input.window, settings.lookback, 'tail');
    peak = window.reduce((m, e) => Math.max(m, e.value), 0);
    parts.push(`stale sample (${Math.round(age)} s): peak tail ${peak} over last ${window.length} observations`);
  }
  return { buffer: margin + unseen + peak, window, why: `buffer = ${parts.join(' + ')}` };
}
