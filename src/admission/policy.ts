// The admission decision as a pure function of plain data: no I/O, no clock, so that a backtester can replay
// recorded observations through every policy and compare them.
//
//   free     = usable − used
//   reserved = workers of admissions granted but not yet visible as ENIs
//   buffer   = per policy (below)
//   admit   iff free − reserved ≥ workers + buffer

import type { bufferSources, policyNames } from '../config/schema.js';
import { forecastBuffer, type ForecastExtras } from './forecast.js';

export type PolicyName = (typeof policyNames)[number];
export type BufferSource = (typeof bufferSources)[number];

export interface PolicySettings {
  policy: PolicyName;
  /** Observations the rolling max looks back over (N). */
  lookback: number;
  /** Floor of the buffer (MIN_BUFFER). */
  minBuffer: number;
  bufferSource: BufferSource;
  /** The flat buffer of the `static` policy. */
  staticBuffer: number;
  /** forecast: days of gate bypasses its margin is learned from (minBuffer until watched this long). */
  bypassMemoryDays: number;
}

export const defaultPolicySettings: PolicySettings = {
  policy: 'rolling-max',
  lookback: 5,
  minBuffer: 10,
  bufferSource: 'available',
  staticBuffer: 20,
  bypassMemoryDays: 7,
};

/** One observation as the policy sees it. */
export interface WindowSample {
  observedAt: number;
  dagRunId?: string;
  available: number;
  /** Undefined when Glue data was unknown: counted as 0 (the tail is then at least `available`). */
  lingering?: number;
}

export interface DecisionInput extends ForecastExtras {
  settings: PolicySettings;
  workers: number;
  free: number;
  reserved: number;
  /** The subnet's current tail parts (tail-aware subtracts what `free` already excludes). */
  current: { available: number; lingering?: number };
  /** Recorded observations, newest first; the policy uses the first `lookback`. */
  window: readonly WindowSample[];
}

export interface WindowEntry {
  observedAt: number;
  dagRunId?: string;
  value: number;
}

export interface Decision {
  admit: boolean;
  reason: string;
  policy: PolicyName;
  bufferSource: BufferSource;
  buffer: number;
  workers: number;
  free: number;
  reserved: number;
  /** The most workers this subnet would admit now. */
  headroom: number;
  /** The observations the buffer came from (empty for `static` and `none`). */
  window: WindowEntry[];
}

export function sourceValue(sample: { available: number; lingering?: number }, source: BufferSource): number {
  return source === 'tail' ? sample.available + (sample.lingering ?? 0) : sample.available;
}

interface BufferResult {
  buffer: number;
  window: WindowEntry[];
  /** How the buffer was reached, for the reason sentence. */
  why: string;
}

function windowEntries(input: DecisionInput, source: BufferSource): WindowEntry[] {
  return input.window.slice(0, input.settings.lookback).map((s) => {
    const e: WindowEntry = { observedAt: s.observedAt, value: sourceValue(s, source) };
    if (s.dagRunId !== undefined) e.dagRunId = s.dagRunId;
    return e;
  });
}

function bufferFor(input: DecisionInput): BufferResult {
  const { settings } = input;
  switch (settings.policy) {
    case 'none':
      return { buffer: 0, window: [], why: 'policy none: no buffer' };
    case 'static':
      return { buffer: settings.staticBuffer, window: [], why: `static buffer ${settings.staticBuffer}` };
    case 'rolling-max': {
      const window = windowEntries(input, settings.bufferSource);
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
      const window = windowEntries(input, 'tail');
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
