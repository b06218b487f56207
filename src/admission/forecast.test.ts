import { describe, expect, it } from 'vitest';
import type { EniView } from '../snapshot/types.js';
import type { Reservation } from './types.js';
import type { ForecastInput } from './forecast.js';
import { unseenWorkers } from './reservations.js';
import { decide, defaultPolicySettings } from './policy.js';
import { eni } from '../../test/helpers/world.js';
import * as records from '../../test/helpers/records.js';

const settings = { ...defaultPolicySettings, policy: 'forecast' as const, minBuffer: 10 };
/** The forecast policy through decide(), the entry point /admit and the backtest call. */
const decideForecast = (i: ForecastInput) => decide(i);
const T = 1_000_000;

function input(over: Partial<ForecastInput> = {}): ForecastInput {
  return {
    settings,
    workers: 10,
    free: 40,
    reserved: 0,
    current: { available: 15, lingering: 5 },
    window: [
      { observedAt: T, available: 15, lingering: 5 },
      { observedAt: T - 60_000, available: 30, lingering: 10 },
    ],
    ...over,
  };
}

const reservation = (id: string, workers: number, createdAt: number, over: Partial<Reservation> = {}): Reservation =>
  records.reservation(id, createdAt, { subnetId: 'subnet-0a1', workers, ...over });

describe('forecast policy', () => {
  it('does not count the tail that free already excludes: admits where rolling-max waits', () => {
    const d = decideForecast(input({ free: 39 }));
    expect(d).toMatchObject({ admit: true, buffer: 10, headroom: 29, free: 39, reserved: 0, window: [] });
    expect(d.reason).toBe(
      'free 39 − reserved 0 ≥ workers 10 + buffer 10 (buffer = margin 10 (min buffer: 0.0 of 1 d of bypasses watched) + unseen 0)',
    );
    // The same subnet through the report's rule: max available 30 → 39 < 10 + 30.
    expect(decide({ ...input({ free: 39 }), settings: { ...settings, policy: 'rolling-max' } }).admit).toBe(false);
  });

  it('waits when the room minus reservations is short of workers + margin', () => {
    expect(decideForecast(input({ free: 25, reserved: 6 })).admit).toBe(false);
    expect(decideForecast(input({ free: 26, reserved: 6 })).admit).toBe(true);
  });

  it('counts workers of expired reservations whose ENIs have not shown up', () => {
    const enis: EniView[] = [eni('eni-1', 'in-use', T + 5_000), eni('eni-2', 'in-use', T + 6_000)];
    const expired = reservation('subnet-0a1.a', 10, T);
    const released = reservation('subnet-0a1.b', 10, T, { closed: 'released', closedAt: T + 1 });
    const live = reservation('subnet-0a1.c', 10, T + 400_000);
    const now = T + 420_000;
    // The expired one sees 2 of its 10 ENIs; the released one never launched; the live one is in `reserved`.
    expect(unseenWorkers([expired, released, live], enis, now)).toBe(8);
    const d = decideForecast(input({ free: 35, reserved: 10, reservations: [expired, released, live], enis, now }));
    expect(d.buffer).toBe(18);
    expect(d.admit).toBe(false);
    expect(d.reason).toContain('margin 10 (min buffer: 0.0 of 1 d of bypasses watched) + unseen 8');
  });

  it('falls back to the worst recent tail when the sample is stale', () => {
    const fresh = decideForecast(input({ snapshotAgeSeconds: 90, sampleIntervalSeconds: 60 }));
    expect(fresh.buffer).toBe(10);
    const stale = decideForecast(input({ snapshotAgeSeconds: 300, sampleIntervalSeconds: 60 }));
    expect(stale.buffer).toBe(10 + 40);
    expect(stale.admit).toBe(false);
    expect(stale.window.map((w) => w.value)).toEqual([20, 40]);
    expect(stale.reason).toContain('stale sample (300 s): peak tail 40 over last 2 observations');
  });

  it('learns its margin from gate bypasses once the subnet was watched for a day, over bypassMemoryDays', () => {
    const DAY = 86_400_000;
    const now = T + 10 * DAY;
    const watched = (days: number, events: { at: number; addresses: number }[] = []) => ({ watchedMs: days * DAY, events, totalAddresses: 0 });
    // Still learning (0.9 of 1 day): minBuffer, whatever was seen.
    const learning = decideForecast(input({ free: 15, now, bypass: watched(0.9) }));
    expect(learning).toMatchObject({ admit: false, buffer: 10 });
    expect(learning.reason).toContain('margin 10 (min buffer: 0.9 of 1 d of bypasses watched)');
    // A day watched and nothing bypassed the gate: no margin, the 10 workers fit in 15 free.
    const clean = decideForecast(input({ free: 15, now, bypass: watched(1) }));
    expect(clean).toMatchObject({ admit: true, buffer: 0, headroom: 15 });
    expect(clean.reason).toContain('margin 0 (most bypass addresses in 2 samples over 7 d)');
    // Two days watched, one bypass of 6 addresses: learned already, before the 7 days of memory are full.
    const early = decideForecast(input({ free: 15, now, bypass: watched(2, [{ at: now - DAY, addresses: 6 }]) }));
    expect(early).toMatchObject({ admit: false, buffer: 6 });
    // Bypasses: 4 and 3 addresses one sample apart count together (7); 8 alone; one older than 7 days is forgotten.
    const events = [
      { at: now - 8 * DAY, addresses: 30 },
      { at: now - 3 * DAY, addresses: 4 },
      { at: now - 3 * DAY + 60_000, addresses: 3 },
      { at: now - DAY, addresses: 8 },
      { at: now - DAY + 120_000, addresses: 5 },
    ];
    const seen = decideForecast(input({ free: 30, now, bypass: watched(9, events), sampleIntervalSeconds: 60 }));
    expect(seen.buffer).toBe(8);
    // A longer memory reaches the 30.
    const longer = decideForecast(input({ free: 30, now, bypass: watched(9, events), settings: { ...settings, bypassMemoryDays: 9 } }));
    expect(longer).toMatchObject({ buffer: 30, admit: false });
  });

  it('honours minBuffer 0 and never reports negative headroom', () => {
    const d = decideForecast(input({ settings: { ...settings, minBuffer: 0 }, free: 5 }));
    expect(d).toMatchObject({ admit: false, buffer: 0, headroom: 5 });
    expect(decideForecast(input({ free: 3 })).headroom).toBe(0);
  });
});
