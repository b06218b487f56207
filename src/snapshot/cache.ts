import { performance } from 'node:perf_hooks';
import { looksLikeSubnetId } from '../config/schema.js';
import type { Snapshot, SubnetView } from './types.js';

export type SnapshotListener = (snapshot: Snapshot) => void;

/** The last failed sample, so that "not ready" and a 503 can say why. */
export interface SampleFailure {
  /** Wall-clock ms. */
  at: number;
  api: string;
  message: string;
}

/**
 * The one cache every reader uses. Written only by the sampler; replaced whole, so a reader never sees a
 * half-read subnet. Freshness is judged on the process's monotonic clock (wall-clock jumps and the
 * simulator's fast virtual time must not make data look fresh or stale).
 */
export class SnapshotCache {
  private snapshot: Snapshot | undefined;
  private readonly listeners = new Set<SnapshotListener>();
  private byId = new Map<string, SubnetView>();
  /** Names that identify one subnet; `null` marks a name two subnets carry (it resolves to neither). */
  private byName = new Map<string, SubnetView | null>();
  private failure: SampleFailure | undefined;

  constructor(private readonly monoNow: () => number = () => performance.now()) {}

  current(): Snapshot | undefined {
    return this.snapshot;
  }

  set(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.failure = undefined;
    const byId = new Map<string, SubnetView>();
    const byName = new Map<string, SubnetView | null>();
    for (const s of snapshot.subnets) byId.set(s.subnetId, s);
    for (const s of snapshot.subnets) {
      // A name shaped like an id is never a key: an id must reach its own subnet whatever the names say.
      if (s.name === s.subnetId || looksLikeSubnetId(s.name)) continue;
      byName.set(s.name, byName.has(s.name) ? null : s);
    }
    this.byId = byId;
    this.byName = byName;
    for (const l of this.listeners) l(snapshot);
  }

  /** A sample failed: the snapshot stays, the cause is kept until the next good one. */
  recordFailure(failure: SampleFailure): void {
    this.failure = failure;
  }

  /** Why the last sample failed, while no good sample has replaced it since. */
  lastFailure(): SampleFailure | undefined {
    return this.failure;
  }

  /** One sentence on why data is missing or stale, for 503s and readiness. */
  staleReason(maxAgeSeconds: number): string | undefined {
    const age = this.ageSeconds();
    const cause = this.failure ? `; last sample failed: ${this.failure.api}: ${this.failure.message}` : '';
    if (age === undefined) return `no successful sample yet${cause}`;
    if (age > maxAgeSeconds) return `last successful sample is ${age.toFixed(0)} s old (max ${maxAgeSeconds} s)${cause}`;
    return undefined;
  }

  /** A subnet by id (always its own subnet), else by a name that only it carries. */
  subnet(key: string): SubnetView | undefined {
    return this.byId.get(key) ?? this.byName.get(key) ?? undefined;
  }

  /** Real seconds since the last good sample completed; undefined before the first one. */
  ageSeconds(): number | undefined {
    if (!this.snapshot) return undefined;
    return Math.max(0, (this.monoNow() - this.snapshot.completedMono) / 1000);
  }

  isFresh(maxAgeSeconds: number): boolean {
    const age = this.ageSeconds();
    return age !== undefined && age <= maxAgeSeconds;
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
