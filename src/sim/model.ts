// The simulated world: subnets, Glue connections and jobs, job runs and the ENIs they leave behind, on virtual
// time. Pure: no I/O, no timers. The HTTP server advances it to the clock before each answer; a backtester
// drives the same class with advanceTo() and, with autoLaunch off, decides itself when each launch happens.
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { assignableAddresses, ipToString, mustParseCidr, type Cidr } from './cidr.js';
import { EventQueue } from './queue.js';
import { Rng } from './rng.js';
import type { Scenario } from './scenario.js';

export const EXHAUSTION_MESSAGE = 'The specified subnet does not have enough free addresses to satisfy the request.';
/** The AWS-managed account that owns Glue's ENIs and the hidden instances they attach to. */
export const GLUE_SERVICE_ACCOUNT = '571637286534';
export const GLUE_VERSION = '4.0';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// ---- Records in AWS's own field names (times are epoch milliseconds) ----

export interface Subnet {
  SubnetId: string;
  CidrBlock: string;
  AvailabilityZone: string;
  VpcId: string;
  State: 'available';
  AvailableIpAddressCount: number;
  OwnerId: string;
  SubnetArn: string;
  /** Not AWS: the scenario's name for the subnet, and its size. */
  name?: string;
  usable: number;
}

export interface NetworkInterface {
  NetworkInterfaceId: string;
  SubnetId: string;
  VpcId: string;
  AvailabilityZone: string;
  Description: string;
  InterfaceType: 'interface';
  MacAddress: string;
  OwnerId: string;
  PrivateDnsName: string;
  PrivateIpAddress: string;
  PrivateIpAddresses: { PrivateIpAddress: string; Primary: boolean; PrivateDnsName: string }[];
  RequesterId?: string;
  RequesterManaged: boolean;
  SourceDestCheck: boolean;
  Status: 'in-use' | 'available';
  Groups: { GroupId: string; GroupName: string }[];
  Attachment?: {
    AttachmentId: string;
    AttachTime: number;
    DeleteOnTermination: boolean;
    DeviceIndex: number;
    NetworkCardIndex: number;
    InstanceId?: string;
    InstanceOwnerId: string;
    Status: 'attached';
  };
}

export interface Connection {
  Name: string;
  ConnectionType: 'NETWORK';
  PhysicalConnectionRequirements: { SubnetId: string; SecurityGroupIdList: string[]; AvailabilityZone: string };
  ConnectionProperties: Record<string, string>;
  CreationTime: number;
  LastUpdatedTime: number;
}

export interface Job {
  Name: string;
  Role: string;
  Command: { Name: 'glueetl'; ScriptLocation: string; PythonVersion: '3' };
  Connections: { Connections: string[] };
  NumberOfWorkers: number;
  WorkerType: string;
  GlueVersion: string;
  MaxRetries: number;
  Timeout: number;
  ExecutionProperty: { MaxConcurrentRuns: number };
  CreatedOn: number;
  LastModifiedOn: number;
  /** Not AWS: the scenario's schedule, if any. */
  schedule?: string;
}

export type JobRunState = 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export interface JobRun {
  Id: string;
  Attempt: number;
  JobName: string;
  JobRunState: JobRunState;
  StartedOn: number;
  LastModifiedOn: number;
  CompletedOn?: number;
  /** Seconds. */
  ExecutionTime: number;
  ErrorMessage?: string;
  NumberOfWorkers: number;
  WorkerType: string;
  GlueVersion: string;
  Timeout: number;
  /** Not AWS: what started it. */
  source: LaunchSource;
}

// ---- Ground truth, for tests and backtests ----

export interface EniTruth {
  id: string;
  subnetId: string;
  owner: 'glue' | 'other';
  jobName?: string;
  jobRunId?: string;
  /** Created at launch (status available, no attachment), attached a few seconds later (in-use). */
  createdAt: number;
  attachedAt?: number;
  /** When the owning run ended (set once it has). */
  runEndedAt?: number;
  /** Drawn at launch: time in-use after the run ends, then time available before deletion. */
  lingerMs?: number;
  availableMs?: number;
  detachedAt?: number;
  deletedAt?: number;
  deletedBy?: 'glue' | 'api';
}

export type LaunchSource = 'schedule' | 'adhoc' | 'api';

export interface LaunchRequest {
  id: string;
  jobName: string;
  dueAt: number;
  workers: number;
  source: 'schedule' | 'adhoc';
}

export type WorldEvent =
  | { type: 'launch-due'; at: number; request: LaunchRequest }
  | { type: 'run-started'; at: number; run: JobRun }
  | { type: 'run-failed'; at: number; run: JobRun }
  | { type: 'run-ended'; at: number; run: JobRun }
  | { type: 'eni-created' | 'eni-detached' | 'eni-deleted'; at: number; eniId: string; subnetId: string };

export interface WorldOptions {
  /** Start scheduled and ad-hoc launches blind at their due time (default), or queue them for a driver. */
  autoLaunch?: boolean;
  /** Called synchronously for every event, in order. */
  listener?: (event: WorldEvent) => void;
}

export class WorldError extends Error {
  constructor(
    readonly kind: 'not-found' | 'in-use' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'WorldError';
  }
}

// ---- Internal state ----

interface SubnetState {
  id: string;
  name?: string;
  cidr: string;
  az: string;
  parsed: Cidr;
  /** Free addresses; allocation picks a seeded random index and swap-removes. */
  free: number[];
  rng: Rng;
}

interface EniState {
  view: NetworkInterface;
  ips: number[];
  truth: EniTruth;
}

interface RunState {
  run: JobRun;
  subnetId: string;
  /** One ENI per worker, created at launch (available), attached seconds later (in-use). */
  eniIds: string[];
  endAt: number;
}

interface JobState {
  job: Job;
  connection: string;
  durationMinutes: { min: number; max: number };
  cron?: CronExpression;
  /** Launches due at the same instant go out in scenario order (after the releases due then). */
  rank: number;
  ordinal: number;
  runs: RunState[];
}

type Ev =
  | { k: 'cron'; job: string }
  | { k: 'adhoc-day'; day: number }
  | { k: 'launch'; request: LaunchRequest }
  | { k: 'attach'; runId: string; eniId: string }
  | { k: 'run-end'; runId: string }
  | { k: 'stop-done'; runId: string }
  | { k: 'detach'; eniId: string }
  | { k: 'delete'; eniId: string };

export class World {
  readonly scenario: Scenario;
  private readonly autoLaunch: boolean;
  private readonly listener?: (event: WorldEvent) => void;
  private t: number;
  private readonly queue = new EventQueue<Ev>();
  private readonly subnetMap = new Map<string, SubnetState>();
  private readonly connectionMap = new Map<string, Connection>();
  private readonly jobMap = new Map<string, JobState>();
  private readonly eniMap = new Map<string, EniState>();
  private readonly truth: EniTruth[] = [];
  private readonly runMap = new Map<string, RunState>();
  private readonly pendingLaunches = new Map<string, LaunchRequest>();
  private readonly ids: Rng;
  private launchSeq = 0;

  constructor(scenario: Scenario, opts: WorldOptions = {}) {
    this.scenario = scenario;
    this.autoLaunch = opts.autoLaunch ?? true;
    this.listener = opts.listener;
    this.t = scenario.start;
    this.ids = new Rng(scenario.seed, 'ids');

    for (const s of scenario.subnets) {
      const parsed = mustParseCidr(s.cidr);
      this.subnetMap.set(s.id, {
        id: s.id,
        name: s.name,
        cidr: s.cidr,
        az: s.availabilityZone,
        parsed,
        free: assignableAddresses(parsed),
        rng: new Rng(scenario.seed, `ip:${s.id}`),
      });
    }
    for (const c of scenario.connections) {
      const subnet = this.subnetMap.get(c.subnet)!;
      this.connectionMap.set(c.name, {
        Name: c.name,
        ConnectionType: 'NETWORK',
        PhysicalConnectionRequirements: {
          SubnetId: c.subnet,
          SecurityGroupIdList: c.securityGroups ?? [`sg-0${new Rng(scenario.seed, `sg:${c.name}`).hex(16)}`],
          AvailabilityZone: subnet.az,
        },
        ConnectionProperties: {},
        CreationTime: scenario.start - 30 * DAY,
        LastUpdatedTime: scenario.start - 30 * DAY,
      });
    }
    const addJob = (name: string, connection: string, workers: number, workerType: string, duration: { min: number; max: number }, role: string, schedule?: string) => {
      const state: JobState = {
        job: {
          Name: name,
          Role: `arn:aws:iam::${scenario.account}:role/${role}`,
          Command: { Name: 'glueetl', ScriptLocation: `s3://aws-glue-assets-${scenario.account}-${scenario.region}/scripts/${name}.py`, PythonVersion: '3' },
          Connections: { Connections: [connection] },
          NumberOfWorkers: workers,
          WorkerType: workerType,
          GlueVersion: GLUE_VERSION,
          MaxRetries: 0,
          Timeout: 2880,
          ExecutionProperty: { MaxConcurrentRuns: 10 },
          CreatedOn: scenario.start - 30 * DAY,
          LastModifiedOn: scenario.start - 30 * DAY,
          schedule,
        },
        connection,
        durationMinutes: duration,
        rank: 0,
        ordinal: 0,
        runs: [],
      };
      if (schedule) {
        // Just before start, so that a firing at exactly `start` is included.
        state.cron = CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: new Date(scenario.start - 1) });
        state.rank = this.jobMap.size + 1;
        this.queue.push(state.cron.next().getTime(), { k: 'cron', job: name }, state.rank);
      }
      this.jobMap.set(name, state);
    };
    for (const j of scenario.jobs) addJob(j.name, j.connection, j.workers, j.workerType, j.durationMinutes, j.role ?? scenario.role, j.schedule);
    scenario.adhoc.forEach((a, i) => {
      const name = adhocJobName(scenario, i);
      if (!this.jobMap.has(name)) addJob(name, a.connection, a.workers, 'G.1X', a.durationMinutes, scenario.role);
    });
    if (scenario.adhoc.length > 0) this.queue.push(Math.floor(scenario.start / DAY) * DAY, { k: 'adhoc-day', day: Math.floor(scenario.start / DAY) });

    // Non-Glue ENIs: attached to instances, holding their addresses for the whole run.
    for (const o of scenario.otherEnis) {
      for (let n = 0; n < o.count; n++) {
        const subnet = this.subnetMap.get(o.subnet)!;
        const ips: number[] = [];
        for (let a = 0; a < o.addressesEach; a++) ips.push(this.allocate(subnet));
        this.createEni(subnet, ips, {
          description: o.description,
          requesterManaged: false,
          groups: [{ GroupId: `sg-0${new Rng(scenario.seed, `sg:other:${o.subnet}`).hex(16)}`, GroupName: 'default' }],
          attachment: { instanceId: `i-0${this.ids.hex(16)}`, ownerId: scenario.account, deleteOnTermination: true, deviceIndex: 0 },
          truth: { owner: 'other' },
          at: scenario.start,
        });
      }
    }
  }

  // ---- Time ----

  now(): number {
    return this.t;
  }

  /** Time of the next scheduled event, if any (lets a driver step event by event). */
  nextEventTime(): number | undefined {
    return this.queue.peekTime();
  }

  /** Process every event due up to and including `t`, then set the world's time to `t`. Never goes back. */
  advanceTo(t: number): void {
    if (!Number.isFinite(t)) throw new WorldError('invalid', `advanceTo: expected a finite time, got ${t}`);
    for (;;) {
      const next = this.queue.peekTime();
      if (next === undefined || next > t) break;
      const { t: at, value } = this.queue.pop()!;
      if (at > this.t) this.t = at;
      this.handle(value);
    }
    if (t > this.t) this.t = t;
  }

  // ---- Reads ----

  subnets(): Subnet[] {
    return [...this.subnetMap.values()].map((s) => this.subnetView(s));
  }

  subnet(id: string): Subnet | undefined {
    const s = this.subnetMap.get(id);
    return s && this.subnetView(s);
  }

  /** Usable minus every held or reserved address: DescribeSubnets' AvailableIpAddressCount. */
  freeAddresses(subnetId: string): number {
    const s = this.subnetMap.get(subnetId);
    if (!s) throw new WorldError('not-found', `unknown subnet ${subnetId}`);
    return s.free.length;
  }

  /** Current ENIs (not deleted), sorted by id. Objects are live views: copy before keeping them. */
  networkInterfaces(): NetworkInterface[] {
    return [...this.eniMap.values()].map((e) => e.view).sort((a, b) => (a.NetworkInterfaceId < b.NetworkInterfaceId ? -1 : 1));
  }

  networkInterface(id: string): NetworkInterface | undefined {
    return this.eniMap.get(id)?.view;
  }

  /** Ground truth of every ENI ever created, deleted ones included, in creation order. */
  eniTruth(): readonly EniTruth[] {
    return this.truth;
  }

  connections(): Connection[] {
    return [...this.connectionMap.values()];
  }

  connection(name: string): Connection | undefined {
    return this.connectionMap.get(name);
  }

  jobs(): Job[] {
    return [...this.jobMap.values()].map((j) => j.job);
  }

  job(name: string): Job | undefined {
    return this.jobMap.get(name)?.job;
  }

  /** Runs of one job (or all), newest first. */
  jobRuns(jobName?: string): JobRun[] {
    const states = jobName === undefined ? [...this.runMap.values()] : (this.jobMap.get(jobName)?.runs ?? []);
    return states.map((r) => r.run).sort((a, b) => b.StartedOn - a.StartedOn || (a.Id < b.Id ? 1 : -1));
  }

  jobRun(runId: string): JobRun | undefined {
    return this.runMap.get(runId)?.run;
  }

  /** Launches due but held for the driver (autoLaunch: false), oldest first. */
  dueLaunches(): LaunchRequest[] {
    return [...this.pendingLaunches.values()];
  }

  // ---- Writes ----

  /**
   * Start a run of `jobName` now (or at `at`, which advances the world there first). A subnet without enough
   * free addresses fails the run at once with the exhaustion error and creates no ENI, as Glue does.
   */
  startJobRun(jobName: string, opts: { at?: number; workers?: number; source?: LaunchSource } = {}): JobRun {
    const state = this.jobMap.get(jobName);
    if (!state) throw new WorldError('not-found', `Job ${jobName} not found`);
    if (opts.at !== undefined) {
      if (opts.at < this.t) throw new WorldError('invalid', `startJobRun: time ${new Date(opts.at).toISOString()} is before the world's time ${new Date(this.t).toISOString()}`);
      this.advanceTo(opts.at);
    }
    const workers = opts.workers ?? state.job.NumberOfWorkers;
    if (!Number.isInteger(workers) || workers < 1 || workers > 1000) throw new WorldError('invalid', `workers: expected an integer from 1 to 1000, got ${workers}`);
    const subnetId = this.connectionMap.get(state.connection)!.PhysicalConnectionRequirements.SubnetId;
    const subnet = this.subnetMap.get(subnetId)!;
    const ordinal = state.ordinal++;
    const rng = new Rng(this.scenario.seed, `run:${jobName}:${ordinal}`);
    const now = this.t;
    const run: JobRun = {
      Id: `jr_${rng.hex(64)}`,
      Attempt: 0,
      JobName: jobName,
      JobRunState: 'STARTING',
      StartedOn: now,
      LastModifiedOn: now,
      ExecutionTime: 0,
      NumberOfWorkers: workers,
      WorkerType: state.job.WorkerType,
      GlueVersion: GLUE_VERSION,
      Timeout: state.job.Timeout,
      source: opts.source ?? 'api',
    };
    const rs: RunState = { run, subnetId, eniIds: [], endAt: now };
    state.runs.push(rs);
    this.runMap.set(run.Id, rs);

    if (subnet.free.length < workers) {
      run.JobRunState = 'FAILED';
      run.ErrorMessage = EXHAUSTION_MESSAGE;
      run.CompletedOn = now;
      this.emit({ type: 'run-failed', at: now, run });
      return run;
    }
    const durationMs = Math.round(rng.between(state.durationMinutes) * 60) * 1000;
    rs.endAt = now + durationMs;
    const lc = this.scenario.lifecycle;
    const job = this.jobMap.get(jobName)!;
    const conn = this.connectionMap.get(job.connection)!;
    for (let i = 0; i < workers; i++) {
      // Whole seconds, as AWS reports AttachTime.
      const attachDelayMs = Math.min(Math.round(rng.between(lc.attachDelaySeconds)) * 1000, durationMs);
      const lingerMs = Math.round(rng.between(lc.lingerInUseMinutes) * 60) * 1000;
      const availableMs = Math.round(rng.between(lc.availableMinutes) * 60) * 1000;
      // Created now (holding its address, not yet attached), as CreateNetworkInterface leaves it.
      const eni = this.createEni(subnet, [this.allocate(subnet)], {
        description: `Attached to Glue using role: ${job.job.Role}`,
        requesterManaged: true,
        groups: conn.PhysicalConnectionRequirements.SecurityGroupIdList.map((g) => ({ GroupId: g, GroupName: `glue-${conn.Name}` })),
        truth: { owner: 'glue', jobName, jobRunId: run.Id, lingerMs, availableMs },
        at: now,
      });
      rs.eniIds.push(eni.view.NetworkInterfaceId);
      this.queue.push(now + attachDelayMs, { k: 'attach', runId: run.Id, eniId: eni.view.NetworkInterfaceId });
    }
    this.queue.push(rs.endAt, { k: 'run-end', runId: run.Id });
    this.emit({ type: 'run-started', at: now, run });
    return run;
  }

  /** Start a held launch request now (autoLaunch: false); it leaves the due list whatever the outcome. */
  launchDue(requestId: string, opts: { at?: number; workers?: number } = {}): JobRun {
    const req = this.pendingLaunches.get(requestId);
    if (!req) throw new WorldError('not-found', `no due launch ${requestId}`);
    this.pendingLaunches.delete(requestId);
    return this.startJobRun(req.jobName, { at: opts.at, workers: opts.workers ?? req.workers, source: req.source });
  }

  /** Forget a held launch request (the driver gave up on it). */
  dropDue(requestId: string): boolean {
    return this.pendingLaunches.delete(requestId);
  }

  /** BatchStopJobRun for one run: STOPPING now, STOPPED a few seconds later; ENIs then detach within the stop bound. */
  stopJobRun(jobName: string, runId: string): void {
    const rs = this.runMap.get(runId);
    if (!rs || rs.run.JobName !== jobName) throw new WorldError('not-found', `Job run ${runId} of job ${jobName} not found`);
    const st = rs.run.JobRunState;
    if (st !== 'STARTING' && st !== 'RUNNING') throw new WorldError('invalid', `Job run ${runId} is ${st}, not running`);
    rs.run.JobRunState = 'STOPPING';
    rs.run.LastModifiedOn = this.t;
    this.queue.push(this.t + 10_000, { k: 'stop-done', runId });
  }

  /** DeleteNetworkInterface: refused while attached. */
  deleteNetworkInterface(id: string): void {
    const e = this.eniMap.get(id);
    if (!e) throw new WorldError('not-found', `The networkInterface ID '${id}' does not exist`);
    if (e.view.Status !== 'available') throw new WorldError('in-use', `Network interface '${id}' is currently in use.`);
    this.removeEni(e, 'api');
  }

  // ---- Event handling ----

  private handle(ev: Ev): void {
    switch (ev.k) {
      case 'cron': {
        const js = this.jobMap.get(ev.job)!;
        this.due({ id: `lr-${++this.launchSeq}`, jobName: ev.job, dueAt: this.t, workers: js.job.NumberOfWorkers, source: 'schedule' });
        this.queue.push(js.cron!.next().getTime(), ev, js.rank);
        return;
      }
      case 'adhoc-day': {
        const dayStart = ev.day * DAY;
        this.scenario.adhoc.forEach((a, i) => {
          const rng = new Rng(this.scenario.seed, `adhoc:${i}:${ev.day}`);
          const n = rng.poisson(a.perDay);
          const times: number[] = [];
          for (let k = 0; k < n; k++) times.push(Math.round((dayStart + (a.hours.from + (a.hours.to - a.hours.from) * rng.float()) * 3_600_000) / 1000) * 1000);
          times.sort((x, y) => x - y);
          const name = adhocJobName(this.scenario, i);
          for (const at of times) {
            if (at < this.scenario.start) continue;
            this.queue.push(at, { k: 'launch', request: { id: '', jobName: name, dueAt: at, workers: a.workers, source: 'adhoc' } });
          }
        });
        this.queue.push(dayStart + DAY, { k: 'adhoc-day', day: ev.day + 1 });
        return;
      }
      case 'launch':
        this.due({ ...ev.request, id: `lr-${++this.launchSeq}` });
        return;
      case 'attach': {
        const rs = this.runMap.get(ev.runId)!;
        const eni = this.eniMap.get(ev.eniId);
        if (!eni) return; // deleted through the API before it attached
        this.attach(eni, { ownerId: GLUE_SERVICE_ACCOUNT, deleteOnTermination: false, deviceIndex: 1 });
        if (rs.run.JobRunState === 'STARTING') {
          rs.run.JobRunState = 'RUNNING';
          rs.run.LastModifiedOn = this.t;
        } else if (rs.run.CompletedOn !== undefined) {
          // The run ended (or was stopped) before this ENI attached: it starts lingering at once.
          this.scheduleRelease(eni, rs.run.CompletedOn, rs.run.JobRunState === 'STOPPED');
        }
        return;
      }
      case 'run-end': {
        const rs = this.runMap.get(ev.runId)!;
        if (rs.run.JobRunState !== 'RUNNING' && rs.run.JobRunState !== 'STARTING') return; // stopped meanwhile
        this.finish(rs, 'SUCCEEDED');
        return;
      }
      case 'stop-done': {
        const rs = this.runMap.get(ev.runId)!;
        if (rs.run.JobRunState === 'STOPPING') this.finish(rs, 'STOPPED');
        return;
      }
      case 'detach': {
        const e = this.eniMap.get(ev.eniId);
        if (!e || e.view.Status !== 'in-use') return;
        e.view.Status = 'available';
        delete e.view.Attachment;
        e.truth.detachedAt = this.t;
        this.queue.push(this.t + (e.truth.availableMs ?? 0), { k: 'delete', eniId: ev.eniId });
        this.emit({ type: 'eni-detached', at: this.t, eniId: ev.eniId, subnetId: e.view.SubnetId });
        return;
      }
      case 'delete': {
        const e = this.eniMap.get(ev.eniId);
        if (e) this.removeEni(e, 'glue');
        return;
      }
    }
  }

  private due(request: LaunchRequest): void {
    this.emit({ type: 'launch-due', at: this.t, request });
    if (this.autoLaunch) this.startJobRun(request.jobName, { workers: request.workers, source: request.source });
    else this.pendingLaunches.set(request.id, request);
  }

  private finish(rs: RunState, state: 'SUCCEEDED' | 'STOPPED'): void {
    const run = rs.run;
    run.JobRunState = state;
    run.CompletedOn = this.t;
    run.LastModifiedOn = this.t;
    run.ExecutionTime = Math.round((this.t - run.StartedOn) / 1000);
    for (const id of rs.eniIds) {
      const e = this.eniMap.get(id);
      // Not yet attached ones start lingering when they attach.
      if (e?.view.Attachment) this.scheduleRelease(e, this.t, state === 'STOPPED');
    }
    this.emit({ type: 'run-ended', at: this.t, run });
  }

  private scheduleRelease(e: EniState, endedAt: number, stopped: boolean): void {
    e.truth.runEndedAt = endedAt;
    if (stopped) e.truth.lingerMs = Math.min(e.truth.lingerMs ?? 0, this.scenario.lifecycle.stopLingerMaxMinutes * MINUTE);
    this.queue.push(Math.max(this.t, endedAt + (e.truth.lingerMs ?? 0)), { k: 'detach', eniId: e.view.NetworkInterfaceId });
  }

  // ---- ENIs and addresses ----

  private allocate(subnet: SubnetState): number {
    const i = subnet.rng.int(0, subnet.free.length - 1);
    const ip = subnet.free[i];
    subnet.free[i] = subnet.free[subnet.free.length - 1];
    subnet.free.pop();
    return ip;
  }

  private createEni(
    subnet: SubnetState,
    ips: number[],
    o: {
      description: string;
      requesterManaged: boolean;
      groups: { GroupId: string; GroupName: string }[];
      attachment?: { instanceId?: string; ownerId: string; deleteOnTermination: boolean; deviceIndex: number };
      truth: Pick<EniTruth, 'owner' | 'jobName' | 'jobRunId' | 'lingerMs' | 'availableMs'>;
      at: number;
    },
  ): EniState {
    const id = `eni-0${this.ids.hex(16)}`;
    const mac = `0e:${this.ids.hex(10).match(/../g)!.join(':')}`;
    const dns = (ip: number) => `ip-${ipToString(ip).replaceAll('.', '-')}.${this.scenario.region === 'us-east-1' ? 'ec2.internal' : `${this.scenario.region}.compute.internal`}`;
    const view: NetworkInterface = {
      NetworkInterfaceId: id,
      SubnetId: subnet.id,
      VpcId: this.scenario.vpcId,
      AvailabilityZone: subnet.az,
      Description: o.description,
      InterfaceType: 'interface',
      MacAddress: mac,
      OwnerId: this.scenario.account,
      PrivateDnsName: dns(ips[0]),
      PrivateIpAddress: ipToString(ips[0]),
      PrivateIpAddresses: ips.map((ip, i) => ({ PrivateIpAddress: ipToString(ip), Primary: i === 0, PrivateDnsName: dns(ip) })),
      RequesterId: o.requesterManaged ? `AROA${this.ids.hex(17).toUpperCase()}:glue-${this.ids.hex(8)}` : undefined,
      RequesterManaged: o.requesterManaged,
      SourceDestCheck: true,
      Status: 'available',
      Groups: o.groups,
    };
    const truth: EniTruth = { id, subnetId: subnet.id, createdAt: o.at, ...o.truth };
    const state: EniState = { view, ips, truth };
    this.eniMap.set(id, state);
    this.truth.push(truth);
    this.emit({ type: 'eni-created', at: o.at, eniId: id, subnetId: subnet.id });
    if (o.attachment) this.attach(state, o.attachment);
    return state;
  }

  private attach(e: EniState, a: { instanceId?: string; ownerId: string; deleteOnTermination: boolean; deviceIndex: number }): void {
    e.view.Status = 'in-use';
    e.view.Attachment = {
      AttachmentId: `eni-attach-0${this.ids.hex(16)}`,
      AttachTime: this.t,
      DeleteOnTermination: a.deleteOnTermination,
      DeviceIndex: a.deviceIndex,
      NetworkCardIndex: 0,
      InstanceId: a.instanceId,
      InstanceOwnerId: a.ownerId,
      Status: 'attached',
    };
    e.truth.attachedAt = this.t;
  }

  private removeEni(e: EniState, by: 'glue' | 'api'): void {
    const subnet = this.subnetMap.get(e.view.SubnetId)!;
    for (const ip of e.ips) subnet.free.push(ip);
    this.eniMap.delete(e.view.NetworkInterfaceId);
    e.truth.deletedAt = this.t;
    e.truth.deletedBy = by;
    this.emit({ type: 'eni-deleted', at: this.t, eniId: e.view.NetworkInterfaceId, subnetId: subnet.id });
  }

  private subnetView(s: SubnetState): Subnet {
    return {
      SubnetId: s.id,
      CidrBlock: s.cidr,
      AvailabilityZone: s.az,
      VpcId: this.scenario.vpcId,
      State: 'available',
      AvailableIpAddressCount: s.free.length,
      OwnerId: this.scenario.account,
      SubnetArn: `arn:aws:ec2:${this.scenario.region}:${this.scenario.account}:subnet/${s.id}`,
      name: s.name,
      usable: s.parsed.usable,
    };
  }

  private emit(event: WorldEvent): void {
    this.listener?.(event);
  }
}

/** The Glue job that an ad-hoc stream launches: its name, or a stable default. */
export function adhocJobName(scenario: Scenario, index: number): string {
  return scenario.adhoc[index].name ?? (index === 0 ? 'adhoc-backfill' : `adhoc-backfill-${index + 1}`);
}
