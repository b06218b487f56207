import { Rng } from './rng.js';

export type FaultKind = 'throttle' | 'server';

export interface FaultSettings {
  /** Share of requests answered with the throttling error (0–1). */
  throttleRate: number;
  /** Share of requests answered with a 500 (0–1). */
  serverErrorRate: number;
  /** Delay added before every answer. */
  latencyMs: number;
  /** Only these API actions (e.g. "DescribeNetworkInterfaces", "GetJobRuns") are affected; all when unset. */
  actions?: string[];
}

export interface FaultUpdate extends Partial<FaultSettings> {
  /** Fail exactly the next `count` matching requests with `kind`, before any rate applies: deterministic tests. */
  failNext?: { count: number; kind: FaultKind };
}

/** Decides, per request, whether to inject a fault. Rates draw from a seeded stream, so a run replays. */
export class FaultInjector {
  private settings: FaultSettings;
  private failNext?: { count: number; kind: FaultKind };
  private readonly rng: Rng;

  constructor(seed: number, initial: Partial<FaultSettings> = {}) {
    this.rng = new Rng(seed, 'faults');
    this.settings = { throttleRate: 0, serverErrorRate: 0, latencyMs: 0 };
    this.set(initial);
  }

  set(update: FaultUpdate): FaultSettings {
    const next = { ...this.settings };
    for (const key of ['throttleRate', 'serverErrorRate'] as const) {
      const v = update[key];
      if (v !== undefined) {
        if (!(v >= 0 && v <= 1)) throw new RangeError(`${key}: expected a number from 0 to 1, got ${v}`);
        next[key] = v;
      }
    }
    if (update.latencyMs !== undefined) {
      if (!(update.latencyMs >= 0 && update.latencyMs <= 60_000))
        throw new RangeError(`latencyMs: expected a number from 0 to 60000, got ${update.latencyMs}`);
      next.latencyMs = update.latencyMs;
    }
    if ('actions' in update) next.actions = update.actions && [...update.actions];
    if (update.failNext !== undefined) {
      const { count, kind } = update.failNext;
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext.count: expected a non-negative integer, got ${count}`);
      if (kind !== 'throttle' && kind !== 'server') throw new RangeError(`failNext.kind: expected throttle or server, got ${String(kind)}`);
      this.failNext = count > 0 ? { count, kind } : undefined;
    }
    this.settings = next;
    return this.get();
  }

  get(): FaultSettings & { failNext?: { count: number; kind: FaultKind } } {
    return { ...this.settings, ...(this.failNext ? { failNext: { ...this.failNext } } : {}) };
  }

  /** The fault for this request, if any. */
  decide(action: string): FaultKind | undefined {
    if (this.settings.actions && !this.settings.actions.includes(action)) return undefined;
    if (this.failNext) {
      const kind = this.failNext.kind;
      if (--this.failNext.count <= 0) this.failNext = undefined;
      return kind;
    }
    const { throttleRate, serverErrorRate } = this.settings;
    if (throttleRate === 0 && serverErrorRate === 0) return undefined;
    const x = this.rng.float();
    if (x < throttleRate) return 'throttle';
    if (x < throttleRate + serverErrorRate) return 'server';
    return undefined;
  }

  latencyMs(action: string): number {
    if (this.settings.actions && !this.settings.actions.includes(action)) return 0;
    return this.settings.latencyMs;
  }
}
