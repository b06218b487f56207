// The admission decision as a pure function of plain data: no I/O, no clock, so that a backtester can replay
// recorded observations through every policy and compare them.
//
//   free     = usable − used
//   reserved = workers of admissions granted but not yet visible as ENIs
//   buffer   = per policy (below)
//   admit   iff free − reserved ≥ workers + buffer

import { forecastBuffer } from './forecast.js';
import type { Decision, DecisionInput, PolicySettings, WindowEntry } from './types.js';
import { sourceValue, windowEntries } from './window.js';

export type { BufferSource, Decision, DecisionInput, PolicyName, PolicySettings, WindowEntry, WindowSample } from './types.js';
export { sourceValue } from './window.js';

// forecast is the default: in the backtest it has no exhaustion failure and misses the fewest runs of the
// gate's policies on every shipped scenario (docs/backtest.md); rolling-max stays as the field report's policy.
export const defaultPolicySettings: PolicySettings = {
  policy: 'forecast',
  lookback: 5,
  minBuffer: 10,
  bufferSource: 'available',
  staticBuffer: 20,
  bypassMemoryDays: 7,
};

interface BufferResult {
  buffer: number;
  window: WindowEntry[];
  /** How the buffer was reached, for the reason sentence. */
  why: string;
}

function bufferFor(input: DecisionInput): BufferResult {
  const { settings } = input;
  switch (settings.policy) {
    case 'none':
      return { buffer: 0, window: [], why: 'policy none: no buffer' };
    case 'static':
      return { buffer: settings.staticBuffer, window: [], why: `static buffer ${settings.staticBuffer}` };
    case 'rolling-max': {
      const window = windowEntries(input.window, settings.lookback, settings.bufferSource);
      const peak = window.reduce((m, e) => Math.max(m, e.value), 0);
      const buffer = Math.max(peak, settings.minBuffer);
      return {
        buffer,
        window,
        why: `buffer = max(max ${settings.bufferSource} over last ${window.length} observations ${peak}, min ${settings.minBuffer})`,
      };
    }
    case 'tail-aware': {
      // `free` already excludes the tail held right now; what can still bite is the part of the recent worst
      // tail that is not held now (it comes back as other jobs finish). Counting the present tail twice is
      // what made the static buffer wrong on fast-cleanup days.
      const window = windowEntries(input.window, settings.lookback, 'tail');
      const peak = window.reduce((m, e) => Math.max(m, e.value), 0);
      const now = sourceValue(input.current, 'tail');
      const buffer = Math.max(peak - now, settings.minBuffer);
      return {
        buffer,
        window,
        why: `buffer = max(peak tail ${peak} over last ${window.length} observations − current tail ${now}, min ${settings.minBuffer})`,
      };
    }
    case 'forecast':
      return forecastBuffer(input);
  }
}

export function decide(input: DecisionInput): Decision {
  const { settings, workers, free, reserved } = input;
  const b = bufferFor(input);
  const room = free - reserved;
  const admit = room >= workers + b.buffer;
  const cmp = admit ? '≥' : '<';
  const reason = `free ${free} − reserved ${reserved} ${cmp} workers ${workers} + buffer ${b.buffer} (${b.why})`;
  return {
    admit,
    reason,
    policy: settings.policy,
    bufferSource: settings.policy === 'tail-aware' || settings.policy === 'forecast' ? 'tail' : settings.bufferSource,
    buffer: b.buffer,
    workers,
    free,
    reserved,
    headroom: Math.max(0, room - b.buffer),
    window: b.window,
  };
}

/** Per-subnet settings: defaults, then the top-level admission knobs, then overrides by id, then by name. */
export function resolveSettings(
  admission: Partial<PolicySettings> & { subnets?: Record<string, Partial<PolicySettings>> },
  subnetId: string,
  subnetName?: string,
): PolicySettings {
  const pick = (o: Partial<PolicySettings> | undefined): Partial<PolicySettings> => {
    const out: Partial<PolicySettings> = {};
    if (!o) return out;
    for (const k of ['policy', 'lookback', 'minBuffer', 'bufferSource', 'staticBuffer', 'bypassMemoryDays'] as const) {
      if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
    }
    return out;
  };
  return {
    ...defaultPolicySettings,
    ...pick(admission),
    ...pick(admission.subnets?.[subnetId]),
    ...(subnetName !== undefined && subnetName !== subnetId ? pick(admission.subnets?.[subnetName]) : {}),
  };
}
