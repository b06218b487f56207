import { describe, expect, it } from 'vitest';
import { VirtualClock } from './clock.js';

describe('VirtualClock', () => {
  const START = Date.parse('2026-04-06T06:55:00Z');

  it('runs at N virtual seconds per real second from its start', () => {
    let real = 1_000_000;
    const c = new VirtualClock({ start: START, speed: 60, realNow: () => real });
    expect(c.now()).toBe(START);
    real += 1_000;
    expect(c.now()).toBe(START + 60_000);
    real += 500;
    expect(c.now()).toBe(START + 90_000);
  });

  it('speed 1 is real time; speed 0 holds still until advanced', () => {
    let real = 0;
    const one = new VirtualClock({ start: START, realNow: () => real });
    const zero = new VirtualClock({ start: START, speed: 0, realNow: () => real });
    real += 2_500;
    expect(one.now()).toBe(START + 2_500);
    expect(zero.now()).toBe(START);
    zero.advance(60_000);
    expect(zero.now()).toBe(START + 60_000);
    zero.advanceTo(START + 30_000); // never back
    expect(zero.now()).toBe(START + 60_000);
    zero.advanceTo(START + 120_000);
    expect(zero.now()).toBe(START + 120_000);
  });

  it('changes speed without a jump', () => {
    let real = 0;
    const c = new VirtualClock({ start: START, speed: 10, realNow: () => real });
    real += 1_000;
    c.setSpeed(100);
    expect(c.now()).toBe(START + 10_000);
    real += 1_000;
    expect(c.now()).toBe(START + 110_000);
    expect(c.speed).toBe(100);
  });

  it('rejects bad input naming it', () => {
    expect(() => new VirtualClock({ start: START, speed: -1 })).toThrow(/^speed: /);
    expect(() => new VirtualClock({ start: Number.NaN })).toThrow(/^start: /);
    expect(() => new VirtualClock({ start: START }).advance(-5)).toThrow(/^advance: /);
  });
});
