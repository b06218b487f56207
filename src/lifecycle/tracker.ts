// ENI state across samples. A single snapshot cannot tell how long an ENI has been `available` or how
// long it stayed in-use after its job ended; comparing consecutive samples can. The memory is persisted
// so that a restart neither forgets ages nor counts an exhaustion failure twice.
import { join } from 'node:path';
import { z } from 'zod';
import type { RawSample } from '../aws/types.js';
import { samplesContiguous } from '../clock.js';
import { bindJobs, groupRunsBySubnet, isExhaustionFailure, owningRun } from '../snapshot/build.js';
import type { Snapshot } from '../snapshot/types.js';
import { runInSlices, runToEnd, SLICE, type Steps, yieldToEventLoop } from '../slices.js';
import { AtomicFileWriter, epochMs, firstIssue, readJsonState, validEntries, type CheckedState, type RejectedRecord } from '../state-file.js';

/** The last sample an ENI was seen in (by its number): kept in memory only, JSON.stringify skips symbol keys. */
const SEEN = Symbol('seen in sample');

interface EniMemory {
  [SEEN]?: number;
  subnetId: string;
  status: string;
  /** Seen in a state other than `available` before: its available-since is a real transition time. */
  seenBeforeAvailable: boolean;
  availableSince?: number;
  /** When its job ended (CompletedOn of the owning run), once known. */
  jobEndedAt?: number;
  lingerObserved?: boolean;
  /** First sample at which it was flagged lingering. */
  lingeringSince?: number;
  lastSeen: number;
}

interface PersistedState {
  version: 1;
  lastSampleAt?: number;
  enis: Record<string, EniMemory>;
  /** Exhaustion-failed run ids already counted, with when they were first counted. */
  countedFailures: Record<string, number>;
  /** Cumulative exhaustion failures by `${subnetId}|${job}`: the counter survives restarts. */
  failureTotals: Record<string, number>;
}

/** The memory as held: ENIs in a Map (50,000 ENIs in an object keyed by id made every sample's lookups slow). */
interface TrackerState extends Omit<PersistedState, 'enis'> {
  enis: Map<string, EniMemory>;
}

export interface LifecycleEvents {
  /** Time an ENI spent `available` before it disappeared. */
  availableDuration(subnetId: string, seconds: number): void;
  /** Time an ENI stayed in-use after its job run's CompletedOn. */
  lingerDuration(subnetId: string, seconds: number): void;
}

export interface SubnetAges {
  oldestAvailableAgeSeconds: number;
  oldestLingeringAgeSeconds: number;
}

// What lifecycle.json may hold, record by record: anything else is set aside on load (an ENI with a string for a
// time would make NaN ages; `"enis": null` made every sample fail).
const eniMemorySchema = z.object({
  subnetId: z.string().regex(/^subnet-[0-9A-Za-z]{1,64}$/, { error: 'expected a subnet id' }),
  status: z.string().regex(/^[A-Za-z-]{1,32}$/, { error: 'expected an ENI status' }),
  seenBeforeAvailable: z.boolean(),
  availableSince: epochMs.optional(),
  jobEndedAt: epochMs.optional(),
  lingerObserved: z.boolean().optional(),
  lingeringSince: epochMs.optional(),
  lastSeen: epochMs,
}) satisfies z.ZodType<EniMemory>;
const ENI_KEY = /^eni-[\w.:-]{1,124}$/;
/** Glue run ids: `jr_` and 64 hex digits in practice. */
const RUN_KEY = /^[\w.:-]{1,255}$/;
/** `${subnetId}|${job}`: Glue job names are 1-255 characters. */
const FAILURE_KEY = /^subnet-[0-9A-Za-z]{1,64}\|[^\u0000-\u001f]{1,255}$/;
const failureTotal = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Far beyond any account (a /16 holds 65,536 addresses); bounds what a forged file can make us hold. */
const MAX_ENIS = 1_000_000;
const MAX_COUNTED_FAILURES = 1_000_000;
/** Series of glue_eni_exhaustion_failures_total: subnets × jobs, well within Glue's job quota. */
const MAX_FAILURE_SERIES = 10_000;

/** lifecycle.json as read from disk: the file's format must match, each record is checked on its own. */
export function checkLifecycleState(parsed: unknown): CheckedState<PersistedState> {
  const p = parsed as Partial<Record<keyof PersistedState, unknown>> | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p) || p.version !== 1) throw new Error('unknown format');
  const rejected: RejectedRecord[] = [];
  const state: PersistedState = {
    version: 1,
    enis: validEntries('enis', p.enis, { key: ENI_KEY, schema: eniMemorySchema, max: MAX_ENIS }, rejected),
    // Absent is empty (older files); null is a bad field, named like any other.
    countedFailures: validEntries(
      'countedFailures',
      p.countedFailures === undefined ? {} : p.countedFailures,
      { key: RUN_KEY, schema: epochMs, max: MAX_COUNTED_FAILURES },
      rejected,
    ),
    failureTotals: validEntries(
      'failureTotals',
      p.failureTotals === undefined ? {} : p.failureTotals,
      { key: FAILURE_KEY, schema: failureTotal, max: MAX_FAILURE_SERIES },
      rejected,
    ),
  };
  if (p.lastSampleAt !== undefined) {
    const at = epochMs.safeParse(p.lastSampleAt);
    if (at.success) state.lastSampleAt = at.data;
    else rejected.push({ record: 'lastSampleAt', field: '', problem: firstIssue(at.error).problem });
  }
  return { state, rejected };
}

const noop = () => {};

export class LifecycleTracker {
  private state: TrackerState = { version: 1, enis: new Map(), countedFailures: {}, failureTotals: {} };
  private readonly file?: string;
  private readonly writer?: AtomicFileWriter;
  /** Bumped by every change to the memory: a save serializing in slices starts over when it moved meanwhile. */
  private changes = 0;
  /** Samples observed since the start: numbers each one for the marks of the ENIs it saw. */
  private samples = 0;
  /** Where observations go; set after construction because the metrics read this tracker too. */
  events: Partial<LifecycleEvents> = {};
  /** Oldest timestamps per subnet, rebuilt lazily after each change: a scrape reads it once per subnet. */
  private oldest: Map<string, { available?: number; lingering?: number }> | undefined;
  /** While a sample is folded in slices: the ages as they were before it, answered until it is whole. */
  private held: Map<string, { available?: number; lingering?: number }> | undefined;
  /** Settles when the sample being folded in slices is whole (a save waits for it). */
  private folding: Promise<unknown> | undefined;

  constructor(
    private readonly opts: {
      dataDir?: string;
      /** Under dataDir: one file per target (`lifecycle.json` for the single-account form). */
      fileName?: string;
      intervalSeconds: number;
      /** How long a counted failure id is remembered (covers the Glue run lookback). */
      failureMemoryMs?: number;
    },
  ) {
    if (opts.dataDir) {
      this.file = join(opts.dataDir, opts.fileName ?? 'lifecycle.json');
      this.writer = new AtomicFileWriter(this.file);
    }
  }

  /**
   * Load persisted memory; a corrupt file is set aside rather than trusted, and so is each bad record in a
   * readable one. Returns a note for the log that names them.
   */
  load(): string | undefined {
    if (!this.file) return undefined;
    const { state, note } = readJsonState(this.file, 'lifecycle state', checkLifecycleState);
    if (state) {
      this.changes++;
      this.state = { ...state, enis: new Map(Object.entries(state.enis)) };
      this.oldest = undefined;
    }
    return note;
  }

  availableSince(eniId: string): number | undefined {
    return this.state.enis.get(eniId)?.availableSince;
  }

  failureTotals(): ReadonlyMap<string, number> {
    return new Map(Object.entries(this.state.failureTotals));
  }

  /**
   * Fold one good sample in; `contiguous` says whether no sample was missed since the previous one. Call
   * before the snapshot is built (so available-since is known), then `markLingering` with the built snapshot.
   */
  observe(raw: RawSample, at: number, opts: { contiguous?: boolean } = {}): void {
    runToEnd(this.observeSteps(raw, at, opts));
  }

  /**
   * The sampler's steps in slices: observe, then the snapshot `build` makes (its own slices), then markLingering.
   * Until they are all done, `ages()` answers as before the sample (a scrape between two slices sees one state)
   * and a save waits.
   */
  *sampleSteps(raw: RawSample, at: number, opts: { contiguous?: boolean }, build: () => Steps<Snapshot>): Steps<Snapshot> {
    this.held = this.oldest ??= yield* this.indexOldestSteps();
    let after: Map<string, { available?: number; lingering?: number }> | undefined;
    try {
      yield* this.observeSteps(raw, at, opts);
      const snapshot = yield* build();
      yield* this.markLingeringSteps(snapshot);
      // The ages after the sample, in slices too: the next scrape would otherwise index 50,000 ENIs in one piece.
      after = yield* this.indexOldestSteps();
      return snapshot;
    } finally {
      this.held = undefined;
      this.oldest = after;
    }
  }

  /** Run `sampleSteps` a slice per turn of the event loop. */
  async foldSample(raw: RawSample, at: number, opts: { contiguous?: boolean }, build: () => Steps<Snapshot>): Promise<Snapshot> {
    const folding = runInSlices(this.sampleSteps(raw, at, opts, build));
    this.folding = folding;
    try {
      return await folding;
    } finally {
      if (this.folding === folding) this.folding = undefined;
    }
  }

  private *observeSteps(raw: RawSample, at: number, opts: { contiguous?: boolean }): Steps<void> {
    this.oldest = undefined;
    this.changes++;
    const prevAt = this.state.lastSampleAt;
    // The sampler knows (on real time) whether the previous good sample was the last one scheduled; without
    // that (first sample after a restart) judge on the data clock, which is real time in production.
    const gapOk = opts.contiguous ?? (prevAt === undefined || samplesContiguous(at - prevAt, this.opts.intervalSeconds));
    const watched = new Set(raw.subnets.map((s) => s.subnetId));
    const runsBySubnet = groupRunsBySubnet(raw.glue);
    const enis = this.state.enis;
    // Marking each ENI seen costs one lookup fewer than a set of the ids seen (at 50,000 ENIs, most of a sample).
    const sample = ++this.samples;

    let n = 0;
    for (const eni of raw.enis) {
      if (++n % SLICE === 0) {
        this.changes++;
        yield;
      }
      const mem = enis.get(eni.id);
      if (!mem) {
        enis.set(eni.id, {
          [SEEN]: sample,
          subnetId: eni.subnetId,
          status: eni.status,
          seenBeforeAvailable: eni.status !== 'available',
          availableSince: eni.status === 'available' ? at : undefined,
          lastSeen: at,
        });
        continue;
      }
      mem[SEEN] = sample;
      if (eni.status === 'available' && mem.status !== 'available') {
        mem.availableSince = at;
        // The in-use → available transition ends the linger; time it from the job's end when we know it.
        if (mem.status === 'in-use' && gapOk && !mem.lingerObserved) {
          const run = owningRun(eni.attachTime, runsBySubnet.get(eni.subnetId) ?? []);
          const ended = run?.completedOn ?? mem.jobEndedAt;
          if (ended !== undefined && ended <= at) {
            this.events.lingerDuration?.(eni.subnetId, (at - ended) / 1000);
            mem.lingerObserved = true;
          }
        }
      } else if (eni.status !== 'available') {
        mem.availableSince = undefined;
        mem.seenBeforeAvailable = true;
        if (eni.status === 'in-use') {
          const runs = runsBySubnet.get(eni.subnetId);
          const run = runs === undefined ? undefined : owningRun(eni.attachTime, runs);
          if (run?.completedOn !== undefined) mem.jobEndedAt = run.completedOn;
        }
      }
      mem.status = eni.status;
      mem.lastSeen = at;
    }

    // Deleting the entry being visited is safe while iterating a Map.
    for (const [id, mem] of enis) {
      if (++n % SLICE === 0) {
        this.changes++;
        yield;
      }
      if (mem[SEEN] === sample) continue;
      // Only an ENI of a watched subnet that vanished is a deletion; an unwatched subnet is just forgotten.
      if (watched.has(mem.subnetId) && mem.status === 'available' && mem.availableSince !== undefined) {
        if (mem.seenBeforeAvailable && gapOk) {
          this.events.availableDuration?.(mem.subnetId, (at - mem.availableSince) / 1000);
        }
      }
      enis.delete(id);
    }

    this.countFailures(raw, at);
    this.state.lastSampleAt = at;
    this.changes++;
  }

  /** Remember since when each lingering ENI lingers, and forget the flag for the others. */
  markLingering(snapshot: Snapshot): void {
    runToEnd(this.markLingeringSteps(snapshot));
  }

  private *markLingeringSteps(snapshot: Snapshot): Steps<void> {
    this.oldest = undefined;
    this.changes++;
    let n = 0;
    for (const subnet of snapshot.subnets) {
      for (const eni of subnet.enis) {
        if (++n % SLICE === 0) {
          this.changes++;
          yield;
        }
        const mem = this.state.enis.get(eni.id);
        if (!mem) continue;
        if (eni.lingering) mem.lingeringSince ??= mem.jobEndedAt ?? snapshot.takenAt;
        else mem.lingeringSince = undefined;
      }
    }
    this.changes++;
  }

  /** Ages at `now` of the oldest available and oldest lingering ENI of a subnet (0 when none). */
  ages(subnetId: string, now: number): SubnetAges {
    const o = (this.held ?? (this.oldest ??= runToEnd(this.indexOldestSteps()))).get(subnetId);
    return {
      oldestAvailableAgeSeconds: o?.available === undefined ? 0 : Math.max(0, (now - o.available) / 1000),
      oldestLingeringAgeSeconds: o?.lingering === undefined ? 0 : Math.max(0, (now - o.lingering) / 1000),
    };
  }

  private *indexOldestSteps(): Steps<Map<string, { available?: number; lingering?: number }>> {
    const m = new Map<string, { available?: number; lingering?: number }>();
    let n = 0;
    for (const mem of this.state.enis.values()) {
      if (++n % SLICE === 0) yield;
      let o = m.get(mem.subnetId);
      if (!o) m.set(mem.subnetId, (o = {}));
      if (mem.status === 'available' && mem.availableSince !== undefined) o.available = Math.min(o.available ?? Infinity, mem.availableSince);
      if (mem.lingeringSince !== undefined) o.lingering = Math.min(o.lingering ?? Infinity, mem.lingeringSince);
    }
    return m;
  }

  /**
   * Write the memory atomically (a crash mid-write leaves the previous file whole), off the event loop: the
   * returned promise settles once this state, or a newer one, is on disk. Saves asked for while one is being
   * written collapse into one write of the newest state.
   */
  save(): Promise<void> {
    return this.writer ? this.writer.write(() => this.serialize()) : Promise.resolve();
  }

  /**
   * lifecycle.json's text (what JSON.stringify of the persisted state gives), in pieces made a slice of ENIs at a
   * time with a turn of the event loop between slices. A change to the memory meanwhile (a sample) starts it
   * over, so the file always holds one state.
   */
  private async serialize(): Promise<string[]> {
    for (;;) {
      // Never a state half-way through a sample.
      while (this.folding) await this.folding.then(noop, noop);
      const at = this.changes;
      const { enis, countedFailures, failureTotals, lastSampleAt } = this.state;
      const pieces = ['{"version":1,"enis":{'];
      let slice: string[] = [];
      let stale = false;
      for (const [id, mem] of enis) {
        slice.push(`${JSON.stringify(id)}:${JSON.stringify(mem)}`);
        if (slice.length < SLICE) continue;
        pieces.push(`${pieces.length > 1 ? ',' : ''}${slice.join(',')}`);
        slice = [];
        await yieldToEventLoop();
        if (this.changes !== at) {
          stale = true;
          break;
        }
      }
      if (stale) continue;
      if (slice.length > 0) pieces.push(`${pieces.length > 1 ? ',' : ''}${slice.join(',')}`);
      const last = lastSampleAt === undefined ? '' : `,"lastSampleAt":${JSON.stringify(lastSampleAt)}`;
      pieces.push(`},"countedFailures":${JSON.stringify(countedFailures)},"failureTotals":${JSON.stringify(failureTotals)}${last}}`);
      return pieces;
    }
  }

  /** Settles once no save is in flight (shutdown, tests). */
  async saved(): Promise<void> {
    await this.writer?.idle();
  }

  private countFailures(raw: RawSample, at: number): void {
    if (!raw.glue) return;
    const { subnetOfJob } = bindJobs(raw.glue);
    for (const run of raw.glue.runs) {
      if (!isExhaustionFailure(run)) continue;
      if (this.state.countedFailures[run.id] !== undefined) continue;
      const subnetId = subnetOfJob.get(run.jobName);
      if (!subnetId) continue;
      this.state.countedFailures[run.id] = at;
      const key = `${subnetId}|${run.jobName}`;
      this.state.failureTotals[key] = (this.state.failureTotals[key] ?? 0) + 1;
    }
    const memory = this.opts.failureMemoryMs ?? 31 * 24 * 3600 * 1000;
    for (const [id, when] of Object.entries(this.state.countedFailures)) {
      if (at - when > memory) delete this.state.countedFailures[id];
    }
  }
}
