// The only writer of the cache. One sample = one consistent read of AWS; a sample that fails anywhere
// replaces nothing (a half-read subnet looks emptier than it is and would admit wrongly).
import { performance } from 'node:perf_hooks';
import cron, { type ScheduledTask } from 'node-cron';
import type { RawSample } from '../aws/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { LifecycleTracker } from '../lifecycle/tracker.js';
import type { Logger } from '../log.js';
import type { SampleStatus } from '../metrics/exporter.js';
import { buildSnapshot } from '../snapshot/build.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import { resolveSubnetNames } from './names.js';

/** What the sampler reads from: AWS through the SDK in production (AwsReader). */
export interface SampleSource {
  read(opts: { subnetIds: string[]; discoverConnections: boolean }): Promise<RawSample & { glueError?: { api: string; message: string } }>;
}

export interface SamplerDeps {
  source: SampleSource;
  cache: SnapshotCache;
  tracker: LifecycleTracker;
  config: Pick<Config, 'subnets' | 'discover' | 'sample' | 'glue'>;
  clock: Clock;
  logger: Logger;
  onError?: (api: string) => void;
}

export class Sampler {
  readonly status: SampleStatus = {};
  private inFlight?: Promise<boolean>;
  private task?: ScheduledTask;
  private stopped = false;
  /** Names learned from Glue connections, kept when a later sample cannot read Glue (no label churn). */
  private readonly learnedNames = new Map<string, string>();
  /** The names of the last sample (the labels its snapshot carries); refused names warned about once each. */
  private resolvedNames?: Map<string, string>;
  private readonly warnedNames = new Set<string>();

  constructor(private deps: SamplerDeps) {}

  /** First sample now, then on the cron schedule. */
  start(): Promise<boolean> {
    const first = this.sampleOnce();
    this.reschedule();
    return first;
  }

  /** (Re)arm the cron task from the config's current schedule (after a reload changed it). */
  reschedule(): void {
    void this.task?.stop();
    if (this.stopped) return;
    this.task = cron.schedule(this.deps.config.sample.schedule, () => void this.sampleOnce(), { noOverlap: true });
  }

  /** Never two at once: a call during a sample joins the one in flight. */
  sampleOnce(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.inFlight ??= this.runSample().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Stop scheduling and let the sample in flight finish (SIGTERM). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    await this.inFlight;
  }

  /** The label humans use for a subnet: configured name, else its Glue connection's name, else the id. */
  subnetName(subnetId: string): string {
    this.resolvedNames ??= resolveSubnetNames(this.deps.config.subnets, this.learnedNames).names;
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
    const { names, refused } = resolveSubnetNames(this.deps.config.subnets, this.learnedNames);
    for (const r of refused) {
      if (this.warnedNames.has(r.name)) continue;
      this.warnedNames.add(r.name);
      this.deps.logger.warn({ subnet_id: r.subnetId, name: r.name, reason: r.reason }, 'discovered subnet name refused; the subnet is labelled by its id');
    }
    this.resolvedNames = names;
    return names;
  }

  private async runSample(): Promise<boolean> {
    const { config, clock, logger, cache, tracker } = this.deps;
    const takenAt = clock.now();
    const t0 = performance.now();
    try {
      const raw = await this.deps.source.read({
        subnetIds: config.subnets.map((s) => s.id),
        discoverConnections: config.discover.glueConnections,
      });
      if (raw.glueError) {
        this.deps.onError?.(raw.glueError.api);
        logger.warn({ api: raw.glueError.api, err: raw.glueError.message }, 'Glue read failed; serving EC2 data only');
      }
      // Learn names first: lifecycle events label their series with them.
      const names = this.names(raw);
      const prev = cache.current();
      const maxGapMs = 3 * config.sample.intervalSeconds * 1000;
      tracker.observe(raw, takenAt, { contiguous: prev ? t0 - prev.completedMono <= maxGapMs : undefined });
      const completedMono = performance.now();
      const snapshot = buildSnapshot(raw, {
        names,
        ownerDescriptionPrefixes: config.glue.ownerDescriptionPrefixes,
        takenAt,
        completedMono,
        durationMs: completedMono - t0,
        availableSince: (id) => tracker.availableSince(id),
        glueError: raw.glueError ? `${raw.glueError.api}: ${raw.glueError.message}` : undefined,
      });
      tracker.markLingering(snapshot);
      cache.set(snapshot);
      try {
        tracker.save();
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'cannot persist lifecycle state');
      }
      Object.assign(this.status, {
        lastSuccess: true,
        lastDurationSeconds: (completedMono - t0) / 1000,
        lastGoodAt: Date.now(),
      });
      logger.debug({ subnets: snapshot.subnets.length, enis: raw.enis.length, ms: Math.round(completedMono - t0) }, 'sample done');
      return true;
    } catch (err) {
      const api = (err as { api?: string }).api ?? 'unknown';
      this.deps.onError?.(api);
      cache.recordFailure({ at: Date.now(), api, message: (err as Error).message });
      Object.assign(this.status, { lastSuccess: false, lastDurationSeconds: (performance.now() - t0) / 1000 });
      logger.error({ api, err: (err as Error).message }, 'sample failed; keeping the last good snapshot');
      return false;
    }
  }
}

