import { performance } from 'node:perf_hooks';
import { looksLikeSubnetId } from '../config/schema.js';
import { IMPLICIT_TARGET_ID } from '../config/targets.js';
import { targetKey, type Snapshot, type SubnetView, type TargetRef } from './types.js';

/** `merged`: the view readers see after the change; `changed`: the one target's snapshot that made it. */
export type SnapshotListener = (merged: Snapshot, changed: Snapshot) => void;

/** The last failed sample, so that "not ready" and a 503 can say why. */
export interface SampleFailure {
  /** Wall-clock ms. */
  at: number;
  api: string;
  message: string;
}

/** One target as readiness, the landing page and /admit judge it. */
export interface TargetState extends TargetRef {
  /** `${account}/${region}`. */
  key: string;
  /** Real seconds since the target's last good sample completed; undefined before its first one. */
  ageSeconds?: number;
  /** Why its last sample failed, while no good sample has replaced it since. */
  failure?: SampleFailure;
}

/** The slot of the single-account form (and of callers that name no target). */
export const DEFAULT_TARGET = IMPLICIT_TARGET_ID;

interface Slot {
  ref: TargetRef;
  snapshot?: Snapshot;
  failure?: SampleFailure;
}

/**
 * The one cache every reader uses. Written only by the sampler, one target's snapshot at a time, each replaced
 * whole: a reader never sees a half-read subnet. `current()` is the merged view of every target's last good
 * snapshot. Freshness is judged per target on the process's monotonic clock (wall-clock jumps and the
 * simulator's fast virtual time must not make data look fresh or stale).
 */
export class SnapshotCache {
  /** By slot id (the sampler's target id; DEFAULT_TARGET for the single-account form). */
  private readonly slots = new Map<string, Slot>();
  private merged: Snapshot | undefined;
  private readonly listeners = new Set<SnapshotListener>();
  private byId = new Map<string, SubnetView>();
  /** Names that identify one subnet; `null` marks a name two subnets carry (it resolves to neither). */
  private byName = new Map<string, SubnetView | null>();
  /** Slot of each subnet (id, and configured or sampled name): a target's staleness reaches its subnets. */
  private slotOfSubnet = new Map<string, string>();
  /** Configured ids and names per slot, known before any sample. */
  private readonly declared = new Map<string, readonly string[]>();

  constructor(private readonly monoNow: () => number = () => performance.now()) {}

  /**
   * Declare a target before its first sample, so that readiness lists it and its configured subnets (ids, names)
   * are judged by its staleness even before it has any data. Without a declaration a slot appears on first use.
   */
  addTarget(id: string, ref: TargetRef, subnets: readonly string[] = []): void {
    const slot = this.slots.get(id);
    if (slot) slot.ref = { ...ref };
    else this.slots.set(id, { ref: { ...ref } });
    this.declared.set(id, subnets);
    this.index();
  }

  /** The merged view of every target's last good snapshot; with one target, its snapshot itself. */
  current(): Snapshot | undefined {
    return this.merged;
  }

  /** One target's last good snapshot. */
  targetSnapshot(id: string = DEFAULT_TARGET): Snapshot | undefined {
    return this.slots.get(id)?.snapshot;
  }

  /** A target's good sample: replaces that target's snapshot whole, and clears its failure. */
  set(snapshot: Snapshot, id: string = DEFAULT_TARGET): void {
    const slot = this.slot(id);
    slot.snapshot = snapshot;
    slot.failure = undefined;
    // The single-account form learns its account from the subnets' OwnerId.
    if (snapshot.target) slot.ref = { account: snapshot.target.account || slot.ref.account, region: snapshot.target.region || slot.ref.region };
    this.merged = this.merge();
    this.index();
    const merged = this.merged!;
    for (const l of this.listeners) l(merged, snapshot);
  }

  /** A target's sample failed: its snapshot stays, the cause is kept until its next good one. */
  recordFailure(failure: SampleFailure, id: string = DEFAULT_TARGET): void {
    this.slot(id).failure = failure;
  }

  /** Why the last sample failed (the most recent failure of any target), while no good sample replaced it. */
  lastFailure(): SampleFailure | undefined {
    let last: SampleFailure | undefined;
    for (const s of this.slots.values()) if (s.failure && (!last || s.failure.at >= last.at)) last = s.failure;
    return last;
  }

  /**
   * One sentence on why data is missing or stale, for 503s and readiness: undefined while at least one target is
   * fresh. With one target, that target's sentence; with several, every target's, each named.
   */
  staleReason(maxAgeSeconds: number): string | undefined {
    const slots = [...this.slots.values()];
    if (slots.length <= 1) return slotStaleReason(slots[0] ?? {}, this.slotAge(slots[0]), maxAgeSeconds);
    const reasons: string[] = [];
    for (const s of slots) {
      const reason = slotStaleReason(s, this.slotAge(s), maxAgeSeconds);
      if (reason === undefined) return undefined;
      reasons.push(`target ${targetKey(s.ref)}: ${reason}`);
    }
    return `no target is fresh: ${reasons.join('; ')}`;
  }

  /**
   * The staleness of the target that holds a subnet (by id or name): undefined while that target is fresh, or
   * when no target holds the subnet. With several targets the sentence names the target.
   */
  subnetStaleReason(subnetIdOrName: string, maxAgeSeconds: number): string | undefined {
    const id = this.slotOfSubnet.get(subnetIdOrName);
    if (id === undefined) return undefined;
    const slot = this.slots.get(id)!;
    const reason = slotStaleReason(slot, this.slotAge(slot), maxAgeSeconds);
    if (reason === undefined || this.slots.size <= 1) return reason;
    return `target ${targetKey(slot.ref)}: ${reason}`;
  }

  /** Real seconds since the good sample of the target that holds a subnet; undefined before its first one. */
  subnetAgeSeconds(subnetIdOrName: string): number | undefined {
    const id = this.slotOfSubnet.get(subnetIdOrName);
    return id === undefined ? undefined : this.slotAge(this.slots.get(id));
  }

  /** The targets that are not fresh, each with its sentence (no target named in it). */
  staleTargets(maxAgeSeconds: number): (TargetState & { reason: string })[] {
    return [...this.slots.values()].flatMap((s) => {
      const state = this.stateOf(s);
      const reason = slotStaleReason(s, state.ageSeconds, maxAgeSeconds);
      return reason === undefined ? [] : [{ ...state, reason }];
    });
  }

  /** The id of the target (cache slot) that holds a subnet, by id or name. */
  targetOf(subnetIdOrName: string): string | undefined {
    return this.slotOfSubnet.get(subnetIdOrName);
  }

  /** Every target: its key, age and last failure. */
  targets(): TargetState[] {
    return [...this.slots.values()].map((s) => this.stateOf(s));
  }

  private stateOf(s: Slot): TargetState {
    const state: TargetState = { account: s.ref.account, region: s.ref.region, key: targetKey(s.ref) };
    const age = this.slotAge(s);
    if (age !== undefined) state.ageSeconds = age;
    if (s.failure) state.failure = s.failure;
    return state;
  }

  /** A subnet by id (always its own subnet), else by a name that only it carries, in any target. */
  subnet(key: string): SubnetView | undefined {
    return this.byId.get(key) ?? this.byName.get(key) ?? undefined;
  }

  /** Real seconds since the freshest target's last good sample completed; undefined before the first one. */
  ageSeconds(): number | undefined {
    let min: number | undefined;
    for (const s of this.slots.values()) {
      const age = this.slotAge(s);
      if (age !== undefined && (min === undefined || age < min)) min = age;
    }
    return min;
  }

  /** At least one target is fresh. */
  isFresh(maxAgeSeconds: number): boolean {
    const age = this.ageSeconds();
    return age !== undefined && age <= maxAgeSeconds;
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private slot(id: string): Slot {
    let slot = this.slots.get(id);
    if (!slot) this.slots.set(id, (slot = { ref: { account: '', region: '' } }));
    return slot;
  }

  private slotAge(slot: Slot | undefined): number | undefined {
    if (!slot?.snapshot) return undefined;
    return Math.max(0, (this.monoNow() - slot.snapshot.completedMono) / 1000);
  }

  /** One target: its own snapshot. Several: their subnets in one list, dated by the freshest. */
  private merge(): Snapshot | undefined {
    const snaps = [...this.slots.values()].flatMap((s) => (s.snapshot ? [s.snapshot] : []));
    if (snaps.length <= 1 && this.slots.size <= 1) return snaps[0];
    if (snaps.length === 0) return undefined;
    const freshest = snaps.reduce((a, b) => (b.completedMono > a.completedMono ? b : a));
    const glueErrors = snaps.flatMap((s) => (s.glueError ? [s.target ? `${targetKey(s.target)}: ${s.glueError}` : s.glueError] : []));
    const merged: Snapshot = {
      takenAt: freshest.takenAt,
      completedMono: freshest.completedMono,
      durationMs: freshest.durationMs,
      glueKnown: snaps.every((s) => s.glueKnown),
      subnets: snaps.flatMap((s) => s.subnets).sort((a, b) => a.name.localeCompare(b.name)),
    };
    if (glueErrors.length > 0) merged.glueError = glueErrors.join('; ');
    return merged;
  }

  private index(): void {
    const byId = new Map<string, SubnetView>();
    const byName = new Map<string, SubnetView | null>();
    const slotOf = new Map<string, string>();
    for (const [id, keys] of this.declared) for (const k of keys) slotOf.set(k, id);
    for (const [id, slot] of this.slots) {
      for (const s of slot.snapshot?.subnets ?? []) {
        byId.set(s.subnetId, s);
        slotOf.set(s.subnetId, id);
      }
    }
    for (const [id, slot] of this.slots) {
      for (const s of slot.snapshot?.subnets ?? []) {
        // A name shaped like an id is never a key: an id must reach its own subnet whatever the names say.
        if (s.name === s.subnetId || looksLikeSubnetId(s.name)) continue;
        byName.set(s.name, byName.has(s.name) ? null : s);
        if (!slotOf.has(s.name)) slotOf.set(s.name, id);
      }
    }
    this.byId = byId;
    this.byName = byName;
    this.slotOfSubnet = slotOf;
  }
}

function slotStaleReason(slot: { snapshot?: Snapshot; failure?: SampleFailure }, age: number | undefined, maxAgeSeconds: number): string | undefined {
  const cause = slot.failure ? `; last sample failed: ${slot.failure.api}: ${slot.failure.message}` : '';
  if (age === undefined) return `no successful sample yet${cause}`;
  if (age > maxAgeSeconds) return `last successful sample is ${age.toFixed(0)} s old (max ${maxAgeSeconds} s)${cause}`;
  return undefined;
}
