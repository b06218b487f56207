// The only writer of the cache. One sample = one consistent read of AWS; a sample that fails anywhere
// replaces nothing (a half-read subnet looks emptier than it is and would admit wrongly).
import { performance } from 'node:perf_hooks';
import type { RawSample } from '../aws/types.js';
import { samplesContiguous, type Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { SampleTarget } from '../config/targets.js';
import type { LifecycleTracker } from '../lifecycle/tracker.js';
import type { Logger } from '../log.js';
import type { SampleStatus } from '../metrics/exporter.js';
import { buildSnapshotSteps } from '../snapshot/build.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { Snapshot } from '../snapshot/types.js';
import { resolveSubnetNames } from './names.js';

/** What the sampler reads from: AWS through the SDK in production (AwsReader). */
export interface SampleSource {
  /** `signal` aborts the read at the sample's deadline; the source should abort its requests in flight. */
  read(opts: {
    subnetIds: string[];
    discoverConnections: boolean;
    signal?: AbortSignal;
  }): Promise<RawSample & { glueError?: { api: string; message: string } }>;
  /** The region the source reads, when the config names none (the SDK's resolution). */
  region?(): Promise<string | undefined>;
}

/** The `api` label and failure api of a sample abandoned at its deadline. */
export const DEADLINE_API = 'deadline';
/**
 * No sample may run longer than this, whatever the schedule (a yearly one would otherwise allow months, and
 * timers past 2^31 ms fire at once). Reading even thousands of subnets takes a few minutes at most.
 */
const MAX_DEADLINE_MS = 30 * 60_000;
/**
 * Nor is any deadline shorter: one page of 1,000 ENIs takes a second or two. Only schedules of a few seconds
 * (the simulator, tests) or a max age below a sample's duration reach it; there a slow sample skips a tick
 * rather than failing for being slow.
 */
const MIN_DEADLINE_MS = 5_000;
/** After the abort, how long to wait for the read to settle, only to name the call that was in flight. */
const ABORT_GRACE_MS = 1_000;

/**
 * How long one sample may run, in ms. A sample that drips past the next scheduled tick would skip that tick
 * (no overlap) and let the cache go stale with no error: so the deadline is the shorter of the interval and
 * the staleness limit, minus a margin (10 %, at least 2 s, at most half) that leaves room for the abort to
 * settle before the next tick; within 5 s and 30 min. An abandoned sample is thus counted before the next one
 * starts, and before the data it keeps goes stale (for schedules of a minute or more, the only kind AWS needs).
 */
export function sampleDeadlineMs(sample: { intervalSeconds: number; maxAgeSeconds: number }): number {
  const base = Math.min(sample.intervalSeconds, sample.maxAgeSeconds) * 1000;
  const margin = Math.min(Math.max(2_000, base * 0.1), base / 2);
  return Math.min(MAX_DEADLINE_MS, Math.max(MIN_DEADLINE_MS, Math.round(base - margin)));
}

class SampleDeadlineError extends Error {
  override readonly name = 'SampleDeadlineError';
  readonly api = DEADLINE_API;
  constructor(readonly deadlineMs: number) {
    super(`sample abandoned at its ${deadlineMs / 1000} s deadline`);
  }
}

/** `work`, or the signal's reason as soon as it aborts, whichever comes first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** The API named by a read's failure, if it fails within `ms` (the timer does not hold the process). */
async function failedApiWithin(work: Promise<unknown>, ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  const failed = work.then(
    () => undefined,
    (err: unknown) => (err as { api?: string }).api,
  );
  try {
    return await Promise.race([failed, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface SamplerDeps {
  source: SampleSource;
  cache: SnapshotCache;
  tracker: LifecycleTracker;
  config: Pick<Config, 'sample' | 'glue'>;
  /** The target this sampler reads, as the config says now (the single-account form's subnets may be reloaded). */
  target: () => SampleTarget;
  clock: Clock;
  logger: Logger;
  /**
   * Waits for a place among the targets sampled at once (sample.concurrency) and gives back its release; the
   * sample's deadline starts once it holds one.
   */
  slot?: () => Promise<() => void>;
  onError?: (api: string) => void;
  /** After each good sample, with the snapshot it produced (checks that need the discovered subnets). */
  onSample?: (snapshot: Snapshot) => void;
}

export class Sampler {
  readonly status: SampleStatus = {};
  private inFlight?: Promise<boolean>;
  private stopped = false;
  /** Names learned from Glue connections, kept when a later sample cannot read Glue (no label churn). */
  private readonly learnedNames = new Map<string, string>();
  /** The names of the last sample (the labels its snapshot carries); refused names warned about once each. */
  private resolvedNames?: Map<string, string>;
  private readonly warnedNames = new Set<string>();
  /** The region the SDK resolved, for a target whose config names none. */
  private resolvedRegion?: string;

  constructor(private deps: SamplerDeps) {}

  /** The cache slot (and metrics) id of this sampler's target. */
  get targetId(): string {
    return this.deps.target().id;
  }

  /** The target as its labels name it: the account learned from its subnets, the region the SDK resolved. */
  targetRef(): { account: string; region: string } {
    const t = this.deps.target();
    const sampled = this.deps.cache.targetSnapshot(t.id)?.target;
    return { account: t.account || (sampled?.account ?? ''), region: t.region ?? sampled?.region ?? this.resolvedRegion ?? '' };
  }

  /** Never two at once: a call during a sample (or while it waits for its slot) joins the one in flight. */
  sampleOnce(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.inFlight ??= this.runInSlot().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Whether a sample of this target is running or waiting for its slot. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Whether a sample of this target is running (holding its slot), not only waiting for one. */
  get sampling(): boolean {
    return this.running;
  }

  private running = false;

  private async runInSlot(): Promise<boolean> {
    const release = await this.deps.slot?.();
    try {
      if (this.stopped) return false;
      this.running = true;
      return await this.runSample();
    } finally {
      this.running = false;
      release?.();
    }
  }

  /** Take no new sample and let the one in flight finish, or reach its deadline (SIGTERM). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight;
  }

  /** The label humans use for a subnet: configured name, else its Glue connection's name, else the id. */
  subnetName(subnetId: string): string {
    this.resolvedNames ??= resolveSubnetNames(this.deps.target().subnets, this.learnedNames).names;
    return this.resolvedNames.get(subnetId) ?? subnetId;
  }

  /**
   * Configured names first; a subnet without one is named after the first Glue connection that points at it,
   * unless that name could be mistaken for another subnet (see resolveSubnetNames): then its id.
   */
  private names(raw: RawSample): Map<string, string> {
    for (const c of raw.glue?.connections ?? []) {
      if (c.subnetId && !this.learnedNames.has(c.subnetId)) this.learnedNames.set(c.subnetId, c.name);
    }
    const { names, refused } = resolveSubnetNames(this.deps.target().subnets, this.learnedNames);
    for (const r of refused) {
      if (this.warnedNames.has(r.name)) continue;
      this.warnedNames.add(r.name);
      this.deps.logger.warn(
        { subnet_id: r.subnetId, name: r.name, reason: r.reason },
        'discovered subnet name refused; the subnet is labelled by its id',
      );
    }
    this.resolvedNames = names;
    return names;
  }

  private async runSample(): Promise<boolean> {
    const { config, clock, cache, tracker } = this.deps;
    const target = this.deps.target();
    if (target.region === undefined && this.resolvedRegion === undefined) this.resolvedRegion = await this.deps.source.region?.();
    const region = target.region ?? this.resolvedRegion ?? '';
    // Every line a sample logs names its target, once there are several.
    const logger = target.id ? this.deps.logger.child({ target: target.id }) : this.deps.logger;
    const takenAt = clock.now();
    const t0 = performance.now();
    const deadlineMs = sampleDeadlineMs(config.sample);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new SampleDeadlineError(deadlineMs)), deadlineMs);
    let reading: Promise<unknown> | undefined;
    try {
      const read = this.deps.source.read({
        subnetIds: target.subnets.map((s) => s.id),
        discoverConnections: target.discover.glueConnections,
        signal: abort.signal,
      });
      reading = read;
      // Past the deadline the read is abandoned: whatever it returns later is never used.
      const raw = await untilAborted(read, abort.signal);
      clearTimeout(timer);
      if (raw.glueError) {
        this.deps.onError?.(raw.glueError.api);
        logger.warn({ api: raw.glueError.api, err: raw.glueError.message }, 'Glue read failed; serving EC2 data only');
      }
      // Learn names first: lifecycle events label their series with them.
      const names = this.names(raw);
      const prev = cache.targetSnapshot(target.id);
      const contiguous = prev ? samplesContiguous(t0 - prev.completedMono, config.sample.intervalSeconds) : undefined;
      let completedMono = 0;
      // The tracker's observe, the snapshot and the lingering marks, a slice of ENIs per turn of the event loop:
      // at 50,000 ENIs they held it ~400 ms in one piece. The snapshot is the one buildSnapshot makes.
      const snapshot = await tracker.foldSample(raw, takenAt, { contiguous }, () => {
        completedMono = performance.now();
        return buildSnapshotSteps(raw, {
          names,
          ownerDescriptionPrefixes: config.glue.ownerDescriptionPrefixes,
          takenAt,
          completedMono,
          durationMs: completedMono - t0,
          availableSince: (id) => tracker.availableSince(id),
          glueError: raw.glueError ? `${raw.glueError.api}: ${raw.glueError.message}` : undefined,
          target: { account: target.account, region },
        });
      });
      cache.set(snapshot, target.id);
      this.deps.onSample?.(snapshot);
      Object.assign(this.status, {
        lastSuccess: true,
        lastDurationSeconds: (completedMono - t0) / 1000,
        lastGoodAt: Date.now(),
      });
      logger.debug({ subnets: snapshot.subnets.length, enis: raw.enis.length, ms: Math.round(completedMono - t0) }, 'sample done');
      // Written off the event loop; the sample (and a stop) ends once its state is on disk.
      await tracker.save().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'cannot persist lifecycle state'));
      return true;
    } catch (err) {
      clearTimeout(timer);
      const api = (err as { api?: string }).api ?? 'unknown';
      let message = (err as Error).message;
      let inFlight: string | undefined;
      if (err instanceof SampleDeadlineError && reading) {
        inFlight = await failedApiWithin(reading, ABORT_GRACE_MS);
        if (inFlight) message += ` during ${inFlight}`;
      }
      this.deps.onError?.(api);
      cache.recordFailure({ at: Date.now(), api, message }, target.id);
      Object.assign(this.status, { lastSuccess: false, lastDurationSeconds: (performance.now() - t0) / 1000 });
      logger.error({ api, err: message, ...(inFlight ? { in_flight: inFlight } : {}) }, 'sample failed; keeping the last good snapshot');
      return false;
    }
  }
}
