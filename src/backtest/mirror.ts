// What the sampler would read from the simulated world, as the raw records of src/aws/types.ts, so that the
// backtest builds its snapshots with the exporter's own buildSnapshot. Kept incrementally from the world's
// events: a sample of an unchanged world reuses the previous records, which keeps 90 days of one-minute
// samples cheap.
import type { RawEni, RawJob, RawJobRun, RawSample, RawSubnet } from '../aws/types.js';
import type { JobRun, NetworkInterface, World, WorldEvent } from '../sim/model.js';

export function rawEniOf(ni: NetworkInterface): RawEni {
  const eni: RawEni = {
    id: ni.NetworkInterfaceId,
    subnetId: ni.SubnetId,
    status: ni.Status,
    description: ni.Description,
    requesterManaged: ni.RequesterManaged,
    interfaceType: ni.InterfaceType,
    privateIpCount: ni.PrivateIpAddresses.length,
    ipv4PrefixCount: 0,
  };
  if (ni.RequesterId !== undefined) eni.requesterId = ni.RequesterId;
  if (ni.Attachment) {
    eni.attachTime = ni.Attachment.AttachTime;
    eni.attachmentStatus = ni.Attachment.Status;
    eni.deleteOnTermination = ni.Attachment.DeleteOnTermination;
  }
  return eni;
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
  availableSince: ReadonlyMap<string, number>;
}

export class WorldMirror {
  private world?: World;
  private readonly enis = new Map<string, RawEni>();
  /** Runs that hold workers (STARTING/RUNNING); completed runs do not change a decision. */
  private readonly active = new Map<string, JobRun>();
  private readonly availableSince = new Map<string, number>();
  private dirty = true;
  private last?: Capture;
  private jobs: RawJob[] = [];
  private connections: { name: string; subnetId?: string }[] = [];

  /** Pass as the World's listener; events before attach() are covered by attach's full read. */
  readonly onEvent = (ev: WorldEvent): void => {
    if (!this.world) return;
    this.dirty = true;
    switch (ev.type) {
      case 'eni-created':
      case 'eni-detached': {
        const ni = this.world.networkInterface(ev.eniId);
        if (ni) this.enis.set(ev.eniId, rawEniOf(ni));
        return;
      }
      case 'eni-deleted':
        this.enis.delete(ev.eniId);
        this.availableSince.delete(ev.eniId);
        return;
      case 'run-started':
        this.active.set(ev.run.Id, ev.run);
        return;
      case 'run-ended':
      case 'run-failed':
        this.active.delete(ev.run.Id);
        return;
      default:
        return;
    }
  };

  attach(world: World): void {
    this.world = world;
    for (const ni of world.networkInterfaces()) this.enis.set(ni.NetworkInterfaceId, rawEniOf(ni));
    this.connections = world.connections().map((c) => ({ name: c.Name, subnetId: c.PhysicalConnectionRequirements.SubnetId }));
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
    const enis = [...this.enis.values()];
    for (const e of enis) {
      if (e.status === 'available' && !this.availableSince.has(e.id)) this.availableSince.set(e.id, takenAt);
    }
    const subnets: RawSubnet[] = world.subnets().map((s) => ({
      subnetId: s.SubnetId,
      cidr: s.CidrBlock,
      availabilityZone: s.AvailabilityZone,
      availableIpAddressCount: s.AvailableIpAddressCount,
    }));
    const runs = [...this.active.values()].map(rawRunOf);
    this.last = {
      takenAt,
      raw: { subnets, enis, glue: { connections: this.connections, jobs: this.jobs, runs } },
      availableSince: new Map(this.availableSince),
    };
    this.dirty = false;
    return this.last;
  }
}
