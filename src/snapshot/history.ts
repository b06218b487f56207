// A bounded in-memory history of ENI counts per subnet, fed by the cache, for the landing page's chart. Memory is
// bounded twice: points older than the window are dropped, and at most `maxPoints` are kept per subnet (a fast
// schedule thins out rather than grows).
import type { SnapshotCache } from './cache.js';
import type { Snapshot } from './types.js';

export interface HistoryPoint {
  /** Sample time (epoch ms). */
  at: number;
  inUse: number;
  available: number;
  /** Undefined when Glue could not be read for that sample. */
  lingering?: number;
  used: number;
}

export interface HistoryOptions {
  /** How far back points are kept, ms (default 6 h). */
  windowMs?: number;
  /** Most points kept per subnet (default 360: one a minute for six hours). */
  maxPoints?: number;
}

export class SnapshotHistory {
  private readonly bySubnet = new Map<string, HistoryPoint[]>();
  readonly windowMs: number;
  private readonly maxPoints: number;

  constructor(opts: HistoryOptions = {}) {
    this.windowMs = opts.windowMs ?? 6 * 3600_000;
    this.maxPoints = opts.maxPoints ?? 360;
    if (!(this.maxPoints >= 2)) throw new RangeError(`maxPoints: expected at least 2, got ${this.maxPoints}`);
  }

  /** Follow a cache: every good sample adds one point per subnet. Returns the unsubscribe function. */
  follow(cache: SnapshotCache): () => void {
    const current = cache.current();
    if (current) this.add(current);
    // One target's sample adds points to its own subnets only; the merged view says which subnets are watched.
    return cache.onSnapshot((merged, changed) => this.add(changed, merged));
  }

  /** Points for `snap`'s subnets; subnets absent from `watchedView` (default: `snap`) are forgotten. */
  add(snap: Snapshot, watchedView: Snapshot = snap): void {
    const watched = new Set(watchedView.subnets.map((s) => s.subnetId));
    for (const s of snap.subnets) {
      const points = this.bySubnet.get(s.subnetId) ?? [];
      // A sample older than the last point (a clock step back) would draw a line backwards: start afresh.
      if (points.length > 0 && points[points.length - 1]!.at > snap.takenAt) points.length = 0;
      points.push({ at: snap.takenAt, inUse: s.inUse, available: s.available, lingering: s.lingering, used: s.used });
      const cutoff = snap.takenAt - this.windowMs;
      let drop = 0;
      while (drop < points.length && points[drop]!.at < cutoff) drop++;
      if (points.length - drop > this.maxPoints) drop = points.length - this.maxPoints;
      if (drop > 0) points.splice(0, drop);
      this.bySubnet.set(s.subnetId, points);
    }
    // A subnet no longer watched keeps no memory.
    for (const id of this.bySubnet.keys()) if (!watched.has(id)) this.bySubnet.delete(id);
  }

  /** The points of one subnet, oldest first (a copy). */
  points(subnetId: string): HistoryPoint[] {
    return [...(this.bySubnet.get(subnetId) ?? [])];
  }
}
