import { describe, expect, it } from 'vitest';
import { decide, defaultPolicySettings, resolveSettings, type DecisionInput, type PolicySettings, type WindowSample } from './policy.js';

const w = (...available: number[]): WindowSample[] => available.map((a, i) => ({ observedAt: 1000 - i, available: a, dagRunId: `run${i}` }));

/** rolling-max unless the test names another policy: most of these tests are about the field report's policy. */
function input(over: Omit<Partial<DecisionInput>, 'settings'> & { settings?: Partial<PolicySettings> }): DecisionInput {
  return {
    workers: 10,
    free: 100,
    reserved: 0,
    current: { available: 0, lingering: 0 },
    window: [],
    ...over,
    settings: { ...defaultPolicySettings, policy: 'rolling-max', ...over.settings },
  };
}

describe('decide: rolling-max', () => {
  it("takes the max, not the average: four windows of 20 and one of 45 give a buffer of 45 (the report's example)", () => {
    const d = decide(input({ window: w(20, 20, 45, 20, 20), free: 54 }));
    expect(d.buffer).toBe(45);
    expect(d.window.map((e) => e.value)).toEqual([20, 20, 45, 20, 20]);
    expect(d.admit).toBe(false); // 54 < 10 + 45
    expect(d.reason).toMatch(/^free 54 − reserved 0 < workers 10 \+ buffer 45/);
    expect(decide(input({ window: w(20, 20, 45, 20, 20), free: 55 })).admit).toBe(true);
  });

  it('looks back only N observations', () => {
    const d = decide(input({ window: w(20, 20, 20, 20, 20, 45), settings: { lookback: 5 } }));
    expect(d.buffer).toBe(20);
    expect(d.window).toHaveLength(5);
  });

  it('floors the buffer at minBuffer (10 by default)', () => {
    expect(decide(input({ window: w(3, 0, 7) })).buffer).toBe(10);
    expect(decide(input({ window: [] })).buffer).toBe(10);
    expect(decide(input({ window: w(3), settings: { minBuffer: 0 } })).buffer).toBe(3);
  });

  it('admits at exactly free − reserved = workers + buffer, waits one below', () => {
    expect(decide(input({ free: 30, reserved: 10, window: w(5) })).admit).toBe(true); // 20 >= 10 + 10
    const d = decide(input({ free: 29, reserved: 10, window: w(5) }));
    expect(d.admit).toBe(false);
    expect(d.reason).toMatch(/^free 29 − reserved 10 < workers 10 \+ buffer 10/);
    expect(d.headroom).toBe(9);
  });

  it('tail source adds lingering to available', () => {
    const win: WindowSample[] = [
      { observedAt: 2, available: 8, lingering: 12 },
      { observedAt: 1, available: 15, lingering: 0 },
    ];
    expect(decide(input({ window: win })).buffer).toBe(15);
    const d = decide(input({ window: win, settings: { bufferSource: 'tail' } }));
    expect(d.buffer).toBe(20);
    expect(d.bufferSource).toBe('tail');
  });
});

describe('decide: other policies', () => {
  it('static holds a flat buffer (20 by default) whatever the window', () => {
    const d = decide(input({ window: w(45), settings: { policy: 'static' } }));
    expect(d.buffer).toBe(20);
    expect(d.window).toEqual([]);
    expect(decide(input({ settings: { policy: 'static', staticBuffer: 5 } })).buffer).toBe(5);
  });

  it('none is the blind launcher: buffer 0', () => {
    const d = decide(input({ free: 10, window: w(45), settings: { policy: 'none' } }));
    expect(d.buffer).toBe(0);
    expect(d.admit).toBe(true);
    expect(decide(input({ free: 9, settings: { policy: 'none' } })).admit).toBe(false);
  });

  it('tail-aware does not count the tail already held twice', () => {
    const win: WindowSample[] = [
      { observedAt: 3, available: 10, lingering: 20 },
      { observedAt: 2, available: 40, lingering: 5 },
    ];
    // peak tail 45, current tail 30 → 15 more could come back
    const d = decide(input({ window: win, current: { available: 10, lingering: 20 }, settings: { policy: 'tail-aware' } }));
    expect(d.buffer).toBe(15);
    // with the peak held right now, only the floor remains
    expect(decide(input({ window: win, current: { available: 40, lingering: 5 }, settings: { policy: 'tail-aware' } })).buffer).toBe(10);
  });
});

describe('resolveSettings', () => {
  it('layers defaults, top level, override by id, then by name', () => {
    const adm = { minBuffer: 5, subnets: { 'subnet-0a': { lookback: 3 }, critical: { policy: 'static' as const, staticBuffer: 30 } } };
    expect(resolveSettings(adm, 'subnet-0a', 'critical')).toEqual({
      policy: 'static',
      lookback: 3,
      minBuffer: 5,
      bufferSource: 'available',
      staticBuffer: 30,
      bypassMemoryDays: 7,
    });
    expect(resolveSettings(adm, 'subnet-0b', 'other')).toEqual({ ...defaultPolicySettings, minBuffer: 5 });
  });
});
