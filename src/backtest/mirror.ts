// What the sampler would read from the simulated world, as the raw records of src/aws/types.ts, so that the
// backtest builds its snapshots with the exporter's own buildSnapshot. A sample of an unchanged world reuses
// the previous records, and unchanged ENIs keep their record, which keeps 90 days of one-minute samples cheap.
import { rawEni, type RawEni, type RawJob, type RawJobRun, type RawSample, type RawSubnet } from '../aws/types.js';
import type { JobRun, NetworkInterface, World, WorldEvent } from '../sim/model.js';

/** The ENI's record as the sampler reads it over the EC2 wire: through the one RawEni builder. */
export function rawEniOf(ni: NetworkInterface): RawEni {
  return rawEni({
    id: ni.NetworkInterfaceId,
    subnetId: ni.SubnetId,
    status: ni.Status,
    description: ni.Description,
    requesterId: ni.RequesterId,
    requesterManaged: ni.RequesterManaged,
    interfaceType: ni.InterfaceType,
    hasPrimaryIp: ni.PrivateIpAddress !== undefined,
    privateIps: ni.PrivateIpAddresses.length,
    prefixes: 0,
    attachTime: ni.Attachment?.AttachTime,
    attachmentStatus: ni.Attachment?.Status,
    deleteOnTermination: ni.Attachment?.DeleteOnTermination,
  });
}

export function rawRunOf(r: JobRun): RawJobRun {
  const run: RawJobRun = { jobName: r.JobName, id: r.Id, state: r.JobRunState, startedOn: r.StartedOn, workers: r.NumberOfWorkers };
  if (r.CompletedOn !== undefined) run.completedOn = r.CompletedOn;
  if (r.ErrorMessage !== undefined) run.errorMessage = r.ErrorMessage;
  return run;
}

/** One sample: what the sampler read at `takenAt`, plus the lifecycle tracker's first-seen-available times. */
export interface Capture {
  takenAt: number;
  raw: RawSample;
  availableSince: (eniId: string) => number | undefined;
}

export class WorldMirror {
  private world?: World;
  /** The world's live ENI views (kept from its create/delete events), and the last record of each. */
  private readonly views = new Map<string, NetworkInterface>();
  private readonly records = new Map<string, RawEni>();
  /** Runs that hold workers. */
  private readonly active = new Map<string, JobRun>();
  /**
   * Runs that ended within the sampler's run lookback, oldest first, as GetJobRuns returns them: the snapshot
   * reads a lingering ENI's run end from them (release prediction times the rest of the linger from it).
   */
  private readonly completed: RawJobRun[] = [];
  private completedHead = 0;
  private readonly availableSince = new Map<string, number>();
  /** ENIs created but not yet attached: their attach emits no event, so each capture checks them. */
  private readonly unattached = new Set<string>();
  private dirty = true;
  private enisChanged = true;
  private last?: Capture;
  private jobs: RawJob[] = [];
  private connections: { name: string; subnetId?: string }[] = [];
  private subnets: Omit<RawSubnet, 'availableIpAddressCount'>[] = [];

  /** Pass as the World's listener. */
  readonly onEvent = (ev: WorldEvent): void => {
    this.dirty = true;
    if (ev.type === 'eni-created') {
      const ni = this.world?.networkInterface(ev.eniId);
      if (ni) this.views.set(ev.eniId, ni);
      if (ni && !ni.Attachment) this.unattached.add(ev.eniId);
      this.enisChanged = true;
    } else if (ev.type === 'eni-detached') {
      this.enisChanged = true;
    } else if (ev.type === 'eni-deleted') {
      this.enisChanged = true;
      this.unattached.delete(ev.eniId);
      this.views.delete(ev.eniId);
      this.records.delete(ev.eniId);
      this.availableSince.delete(ev.eniId);
    } else if (ev.type === 'run-started') this.active.set(ev.run.Id, ev.run);
    else if (ev.type === 'run-ended' || ev.type === 'run-failed') {
      this.active.delete(ev.run.Id);
      // An ended run's record no longer changes: made once.
      this.completed.push(rawRunOf(ev.run));
    }
  };

  /** @param runLookbackMs the sampler's glue.runLookbackHours (default 24 h): how far back ended runs are read. */
  constructor(private readonly runLookbackMs = 24 * 3_600_000) {}

  /** The world processed events (some, like an ENI attaching, emit nothing): the next capture re-reads it. */
  touch(): void {
    this.dirty = true;
  }

  attach(world: World): void {
    this.world = world;
    for (const ni of world.networkInterfaces()) {
      this.views.set(ni.NetworkInterfaceId, ni);
      if (!ni.Attachment) this.unattached.add(ni.NetworkInterfaceId);
    }
    this.enisChanged = true;
    this.connections = world.connections().map((c) => ({ name: c.Name, subnetId: c.PhysicalConnectionRequirements.SubnetId }));
    this.subnets = world.subnets().map((s) => ({ subnetId: s.SubnetId, cidr: s.CidrBlock, availabilityZone: s.AvailabilityZone }));
    this.jobs = world.jobs().map((j) => ({ name: j.Name, connections: j.Connections.Connections, workers: j.NumberOfWorkers }));
    this.dirty = true;
  }

  /** The sample the sampler would take now. */
  capture(takenAt: number): Capture {
    const world = this.world;
    if (!world) throw new Error('WorldMirror.capture: attach(world) first');
    if (!this.dirty && this.last) {
      this.last = { ...this.last, takenAt };
      return this.last;
    }
    for (const id of this.unattached) {
      if (this.views.get(id)?.Attachment) {
        this.unattached.delete(id);
        this.enisChanged = true;
      }
    }
    if (!this.enisChanged && this.last) {
      this.last = { ...this.last, takenAt, raw: { subnets: this.rawSubnets(world), enis: this.last.raw.enis, glue: this.rawGlue(takenAt) } };
      this.dirty = false;
      return this.last;
    }
    const enis: RawEni[] = [];
    for (const [id, ni] of this.views) {
      let rec = this.records.get(id);
      if (!rec || rec.status !== ni.Status || rec.attachTime !== ni.Attachment?.AttachTime) {
        rec = rawEniOf(ni);
        this.records.set(id, rec);
      }
      if (rec.status !== 'available') this.availableSince.delete(id);
      else if (!this.availableSince.has(id)) this.availableSince.set(id, takenAt);
      enis.push(rec);
    }
    const subnets = this.rawSubnets(world);
    // First-seen times are set once and only for ENIs in this capture or later ones: no copy needed.
    const since = this.availableSince;
    this.last = {
      takenAt,
      raw: { subnets, enis, glue: this.rawGlue(takenAt) },
      availableSince: (id) => {
        const v = since.get(id);
        return v !== undefined && v <= takenAt ? v : undefined;
      },
    };
    this.dirty = false;
    this.enisChanged = false;
    return this.last;
  }

  private rawGlue(takenAt: number): NonNullable<RawSample['glue']> {
    const cutoff = takenAt - this.runLookbackMs;
    while (this.completedHead < this.completed.length && (this.completed[this.completedHead].completedOn ?? 0) < cutoff) this.completedHead++;
    // Drop the read-past head now and then rather than shifting on every capture.
    if (this.completedHead > 1024) {
      this.completed.splice(0, this.completedHead);
      this.completedHead = 0;
    }
    const runs = [...[...this.active.values()].map(rawRunOf), ...this.completed.slice(this.completedHead)];
    return { connections: this.connections, jobs: this.jobs, runs };
  }

  private rawSubnets(world: World): RawSubnet[] {
    return this.subnets.map((s) => ({ ...s, availableIpAddressCount: world.freeAddresses(s.subnetId) }));
  }
}
