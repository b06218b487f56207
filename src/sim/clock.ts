import type { Clock } from '../clock.js';

export interface VirtualClockOptions {
  /** Virtual epoch ms at which the clock starts. */
  start: number;
  /** Virtual seconds per real second: 1 is real time, 60 is an hour a minute, 0 holds time still. */
  speed?: number;
  /** Real time source, replaceable in tests. */
  realNow?: () => number;
}

/**
 * Virtual time for the simulator and for an exporter sampling it: start + (real elapsed) × speed, plus any
 * jumps. It never goes back, so ages measured against it stay non-negative.
 */
export class VirtualClock implements Clock {
  private readonly realNow: () => number;
  private originVirtual: number;
  private originReal: number;
  private rate: number;

  constructor(opts: VirtualClockOptions) {
    if (!Number.isFinite(opts.start)) throw new RangeError(`start: expected a finite epoch time, got ${opts.start}`);
    this.rate = checkSpeed(opts.speed ?? 1);
    this.realNow = opts.realNow ?? Date.now;
    this.originVirtual = opts.start;
    this.originReal = this.realNow();
  }

  now(): number {
    return Math.floor(this.originVirtual + (this.realNow() - this.originReal) * this.rate);
  }

  get speed(): number {
    return this.rate;
  }

  /** Change speed from now on, without a jump in time. */
  setSpeed(speed: number): void {
    const now = this.now();
    this.rate = checkSpeed(speed);
    this.originVirtual = now;
    this.originReal = this.realNow();
  }

  /** Move virtual time forward by `ms` at once. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance: expected a non-negative number of milliseconds, got ${ms}`);
    this.originVirtual += ms;
  }

  /** Move virtual time forward to `t` (no-op if already past it). */
  advanceTo(t: number): void {
    const now = this.now();
    if (t > now) this.originVirtual += t - now;
  }
}

function checkSpeed(speed: number): number {
  if (!Number.isFinite(speed) || speed < 0 || speed > 1_000_000) throw new RangeError(`speed: expected a number from 0 to 1000000, got ${speed}`);
  return speed;
}
