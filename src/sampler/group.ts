// The targets' samplers on one schedule: each tick starts every target that is not still sampling, at most
// sample.concurrency at once. A slow, throttled or failing target holds its own place only: the others keep their
// ticks, their deadlines and their snapshots.
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/load.js';
import type { SampleStatus } from '../metrics/exporter.js';
import type { Sampler } from './sampler.js';

/** At most `limit()` holders at once, served in arrival order; the limit is read at each release (a reload). */
export class Slots {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: () => number) {}

  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.held++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held--;
          this.next();
        });
      };
      this.waiting.push(grant);
      this.next();
    });
  }

  private next(): void {
    while (this.held < this.limit() && this.waiting.length > 0) this.waiting.shift()!();
  }
}

export class SamplerGroup {
  private task?: ScheduledTask;
  private stopped = false;

  constructor(
    readonly samplers: readonly Sampler[],
    private readonly config: Pick<Config, 'sample'>,
  ) {}

  /** First sample of every target now, then on the cron schedule. True when every target's succeeded. */
  start(): Promise<boolean> {
    const first = this.sampleOnce();
    this.reschedule();
    return first;
  }

  /** (Re)arm the cron task from the config's current schedule. */
  reschedule(): void {
    void this.task?.stop();
    if (this.stopped) return;
    // A target still sampling skips this tick (as one sampler always did); the others start.
    this.task = cron.schedule(this.config.sample.schedule, () => {
      for (const s of this.samplers) if (!s.busy) void s.sampleOnce();
    });
  }

  /** Sample every target (joining any in flight); true when every one succeeded. */
  async sampleOnce(): Promise<boolean> {
    const results = await Promise.all(this.samplers.map((s) => s.sampleOnce()));
    return results.every(Boolean);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    await Promise.all(this.samplers.map((s) => s.stop()));
  }

  /** The sample status of the single-account form (the first target's with several). */
  get status(): SampleStatus {
    return this.samplers[0]!.status;
  }

  /** The `subnet` label of a subnet id: the name the target that watches it gives (else the id). */
  subnetName(subnetId: string): string {
    for (const s of this.samplers) {
      const name = s.subnetName(subnetId);
      if (name !== subnetId) return name;
    }
    return subnetId;
  }
}
