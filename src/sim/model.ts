// The simulated world's behaviour: subnets, Glue connections and jobs, job runs and the ENIs they leave behind, on
// virtual time. Pure: no I/O, no timers. The HTTP server advances it to the clock before each answer; a backtester
// drives the same class with advanceTo() and, with autoLaunch off, decides itself when each launch happens.
// Records live in records.ts, events in events.ts, the starting state is built in build.ts.
import { adhocJobName, buildWorld, DAY, MINUTE, queueNextFiring } from './build.js';
import { allocate, attachEni, createEni, removeEni, subnetView } from './enis.js';
import type { WorldEvent } from './events.js';
import {
  EXHAUSTION_MESSAGE,
  GLUE_SERVICE_ACCOUNT,
  GLUE_VERSION,
  type Connection,
  type EniTruth,
  type Job,
  type JobRun,
  type LaunchRequest,
  type LaunchSource,
  type NetworkInterface,
  type Subnet,
} from './records.js';
import { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { EniState, RunState, WorldState } from './state.js';

export { adhocJobName } from './build.js';
export * from './events.js';
export * from './records.js';

export interface WorldOptions {
  /** Start scheduled and ad-hoc launches blind at their due time (default), or queue them for a driver. */
  autoLaunch?: boolean;
  /** Called synchronously for every reported event (see WorldEvent), in order. */
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

export class World {
  readonly scenario: Scenario;
  private readonly autoLaunch: boolean;
  private readonly w: WorldState;
  private readonly pendingLaunches = new Map<string, LaunchRequest>();
  private launchSeq = 0;
  private sorted?: { version: number; list: readonly NetworkInterface[] };

  constructor(scenario: Scenario, opts: WorldOptions = {}) {
    this.scenario = scenario;
    this.autoLaunch = opts.autoLaunch ?? true;
    const listener = opts.listener;
    this.w = buildWorld(scenario, (event) => listener?.(event));
  }

  // ---- Time ----

  now(): number {
    return this.w.t;
  }

  /** Time of the next scheduled event, if any (lets a driver step event by event). */
  nextEventTime(): number | undefined {
    return this.w.queue.peekTime();
  }

  /** Process every event due up to and including `t`, then set the world's time to `t`. Never goes back. */
  advanceTo(t: number): void {
    if (!Number.isFinite(t)) throw new WorldError('invalid', `advanceTo: expected a finite time, got ${t}`);
    const w = this.w;
    for (;;) {
      const next = w.queue.peekTime();
      if (next === undefined || next > t) break;
      const { t: at, value } = w.queue.pop()!;
      if (at > w.t) w.t = at;
      this.apply(value);
    }
    if (t > w.t) w.t = t;
  }

  // ---- Reads ----

  subnets(): Subnet[] {
    return [...this.w.subnets.values()].map((s) => subnetView(this.w, s));
  }

  subnet(id: string): Subnet | undefined {
    const s = this.w.subnets.get(id);
    return s && subnetView(this.w, s);
  }

  /** Usable minus every held or reserved address: DescribeSubnets' AvailableIpAddressCount. */
  freeAddresses(subnetId: string): number {
    const s = this.w.subnets.get(subnetId);
    if (!s) throw new WorldError('not-found', `unknown subnet ${subnetId}`);
    return s.free.length;
  }

  /** Current ENIs (not deleted), sorted by id. Objects are live views: copy before keeping them. */
  networkInterfaces(): NetworkInterface[] {
    return this.sortedEnis().slice();
  }

  /**
   * The same list, shared and read-only: sorted once per change of any ENI (`enisVersion`), not once per call. A
   * DescribeNetworkInterfaces sequence of a large world asks for it on every page.
   */
  sortedEnis(): readonly NetworkInterface[] {
    const w = this.w;
    if (this.sorted?.version !== w.enisVersion) {
      const list = [...w.enis.values()].map((e) => e.view).sort((a, b) => (a.NetworkInterfaceId < b.NetworkInterfaceId ? -1 : 1));
      this.sorted = { version: w.enisVersion, list };
    }
    return this.sorted.list;
  }

  /** Changes with every change to any ENI: a view of them read at one version holds until the next. */
  enisVersion(): number {
    return this.w.enisVersion;
  }

  networkInterface(id: string): NetworkInterface | undefined {
    return this.w.enis.get(id)?.view;
  }

  /** Ground truth of every ENI ever created, deleted ones included, in creation order. */
  eniTruth(): readonly EniTruth[] {
    return this.w.truth;
  }

  connections(): Connection[] {
    return [...this.w.connections.values()];
  }

  connection(name: string): Connection | undefined {
    return this.w.connections.get(name);
  }

  jobs(): Job[] {
    return [...this.w.jobs.values()].map((j) => j.job);
  }

  job(name: string): Job | undefined {
    return this.w.jobs.get(name)?.job;
  }

  /** Runs of one job (or all), newest first. */
  jobRuns(jobName?: string): JobRun[] {
    const states = jobName === undefined ? [...this.w.runs.values()] : (this.w.jobs.get(jobName)?.runs ?? []);
    return states.map((r) => r.run).sort((a, b) => b.StartedOn - a.StartedOn || (a.Id < b.Id ? 1 : -1));
  }

  jobRun(runId: string): JobRun | undefined {
    return this.w.runs.get(runId)?.run;
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
    const w = this.w;
    const state = w.jobs.get(jobName);
    if (!state) throw new WorldError('not-found', `Job ${jobName} not found`);
    if (opts.at !== undefined) {
      if (opts.at < w.t)
        throw new WorldError(
          'invalid',
          `startJobRun: time ${new Date(opts.at).toISOString()} is before the world's time ${new Date(w.t).toISOString()}`,
        );
      this.advanceTo(opts.at);
    }
    const workers = opts.workers ?? state.job.NumberOfWorkers;
    if (!Number.isInteger(workers) || workers < 1 || workers > 1000)
      throw new WorldError('invalid', `workers: expected an integer from 1 to 1000, got ${workers}`);
    const conn = w.connections.get(state.connection)!;
    const subnetId = conn.PhysicalConnectionRequirements.SubnetId;
    const subnet = w.subnets.get(subnetId)!;
    const ordinal = state.ordinal++;
    const rng = new Rng(this.scenario.seed, `run:${jobName}:${ordinal}`);
    const now = w.t;
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
    w.runs.set(run.Id, rs);

    if (subnet.free.length < workers) {
      run.JobRunState = 'FAILED';
      run.ErrorMessage = EXHAUSTION_MESSAGE;
      run.CompletedOn = now;
      w.emit({ type: 'run-failed', at: now, run });
      return run;
    }
    const durationMs = Math.round(rng.between(state.durationMinutes) * 60) * 1000;
    rs.endAt = now + durationMs;
    const lc = this.scenario.lifecycle;
    for (let i = 0; i < workers; i++) {
      // Whole seconds, as AWS reports AttachTime.
      const attachDelayMs = Math.min(Math.round(rng.between(lc.attachDelaySeconds)) * 1000, durationMs);
      const lingerMs = Math.round(rng.between(lc.lingerInUseMinutes) * 60) * 1000;
      const availableMs = Math.round(rng.between(lc.availableMinutes) * 60) * 1000;
      // Created now (holding its address, not yet attached), as CreateNetworkInterface leaves it.
      const eni = createEni(w, subnet, [allocate(subnet)], {
        description: `Attached to Glue using role: ${state.job.Role}`,
        requesterManaged: true,
        groups: conn.PhysicalConnectionRequirements.SecurityGroupIdList.map((g) => ({ GroupId: g, GroupName: `glue-${conn.Name}` })),
        truth: { owner: 'glue', jobName, jobRunId: run.Id, lingerMs, availableMs },
        at: now,
      });
      const eniId = eni.view.NetworkInterfaceId;
      rs.eniIds.push(eniId);
      this.queue({ type: 'eni-attached', at: now + attachDelayMs, eniId, subnetId, runId: run.Id });
    }
    this.queue({ type: 'run-ended', at: rs.endAt, run });
    w.emit({ type: 'run-started', at: now, run });
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
    const rs = this.w.runs.get(runId);
    if (!rs || rs.run.JobName !== jobName) throw new WorldError('not-found', `Job run ${runId} of job ${jobName} not found`);
    const st = rs.run.JobRunState;
    if (st !== 'STARTING' && st !== 'RUNNING') throw new WorldError('invalid', `Job run ${runId} is ${st}, not running`);
    rs.run.JobRunState = 'STOPPING';
    rs.run.LastModifiedOn = this.w.t;
    this.queue({ type: 'run-stopped', at: this.w.t + 10_000, run: rs.run });
  }

  /** DeleteNetworkInterface: refused while attached. */
  deleteNetworkInterface(id: string): void {
    const e = this.w.enis.get(id);
    if (!e) throw new WorldError('not-found', `The networkInterface ID '${id}' does not exist`);
    if (e.view.Status !== 'available') throw new WorldError('in-use', `Network interface '${id}' is currently in use.`);
    removeEni(this.w, e, 'api');
  }

  // ---- Events falling due ----

  private queue(ev: WorldEvent, rank = 0): void {
    this.w.queue.push(ev.at, ev, rank);
  }

  private apply(ev: WorldEvent): void {
    const w = this.w;
    switch (ev.type) {
      case 'launch-due': {
        this.due({ ...ev.request, id: `lr-${++this.launchSeq}` });
        if (ev.request.source === 'schedule') queueNextFiring(w, w.jobs.get(ev.request.jobName)!);
        return;
      }
      case 'adhoc-day': {
        const dayStart = ev.day * DAY;
        this.scenario.adhoc.forEach((a, i) => {
          const rng = new Rng(this.scenario.seed, `adhoc:${i}:${ev.day}`);
          const n = rng.poisson(a.perDay);
          const times: number[] = [];
          for (let k = 0; k < n; k++)
            times.push(Math.round((dayStart + (a.hours.from + (a.hours.to - a.hours.from) * rng.float()) * 3_600_000) / 1000) * 1000);
          times.sort((x, y) => x - y);
          const jobName = adhocJobName(this.scenario, i);
          for (const at of times) {
            if (at < this.scenario.start) continue;
            this.queue({ type: 'launch-due', at, request: { id: '', jobName, dueAt: at, workers: a.workers, source: 'adhoc' } });
          }
        });
        this.queue({ type: 'adhoc-day', at: dayStart + DAY, day: ev.day + 1 });
        return;
      }
      case 'eni-attached': {
        const rs = w.runs.get(ev.runId)!;
        const eni = w.enis.get(ev.eniId);
        if (!eni) return; // deleted through the API before it attached
        attachEni(w, eni, { ownerId: GLUE_SERVICE_ACCOUNT, deleteOnTermination: false, deviceIndex: 1 });
        if (rs.run.JobRunState === 'STARTING') {
          rs.run.JobRunState = 'RUNNING';
          rs.run.LastModifiedOn = w.t;
        } else if (rs.run.CompletedOn !== undefined) {
          // The run ended (or was stopped) before this ENI attached: it starts lingering at once.
          this.queueRelease(eni, rs.run.CompletedOn, rs.run.JobRunState === 'STOPPED');
        }
        return;
      }
      case 'run-ended': {
        const rs = w.runs.get(ev.run.Id)!;
        if (rs.run.JobRunState !== 'RUNNING' && rs.run.JobRunState !== 'STARTING') return; // stopped meanwhile
        this.finish(rs, 'SUCCEEDED');
        return;
      }
      case 'run-stopped': {
        const rs = w.runs.get(ev.run.Id)!;
        if (rs.run.JobRunState === 'STOPPING') this.finish(rs, 'STOPPED');
        return;
      }
      case 'eni-detached': {
        const e = w.enis.get(ev.eniId);
        if (e?.view.Status !== 'in-use') return;
        w.enisVersion++;
        e.view.Status = 'available';
        delete e.view.Attachment;
        e.truth.detachedAt = w.t;
        this.queue({ type: 'eni-deleted', at: w.t + (e.truth.availableMs ?? 0), eniId: ev.eniId, subnetId: e.view.SubnetId });
        w.emit({ type: 'eni-detached', at: w.t, eniId: ev.eniId, subnetId: e.view.SubnetId });
        return;
      }
      case 'eni-deleted': {
        const e = w.enis.get(ev.eniId);
        if (e) removeEni(w, e, 'glue');
        return;
      }
      case 'run-started':
      case 'run-failed':
      case 'eni-created':
        return; // happen at once, never queued
    }
  }

  private due(request: LaunchRequest): void {
    this.w.emit({ type: 'launch-due', at: this.w.t, request });
    if (this.autoLaunch) this.startJobRun(request.jobName, { workers: request.workers, source: request.source });
    else this.pendingLaunches.set(request.id, request);
  }

  private finish(rs: RunState, state: 'SUCCEEDED' | 'STOPPED'): void {
    const w = this.w;
    const run = rs.run;
    run.JobRunState = state;
    run.CompletedOn = w.t;
    run.LastModifiedOn = w.t;
    run.ExecutionTime = Math.round((w.t - run.StartedOn) / 1000);
    for (const id of rs.eniIds) {
      const e = w.enis.get(id);
      // Not yet attached ones start lingering when they attach.
      if (e?.view.Attachment) this.queueRelease(e, w.t, state === 'STOPPED');
    }
    w.emit({ type: 'run-ended', at: w.t, run });
  }

  private queueRelease(e: EniState, endedAt: number, stopped: boolean): void {
    e.truth.runEndedAt = endedAt;
    if (stopped) e.truth.lingerMs = Math.min(e.truth.lingerMs ?? 0, this.scenario.lifecycle.stopLingerMaxMinutes * MINUTE);
    const at = Math.max(this.w.t, endedAt + (e.truth.lingerMs ?? 0));
    this.queue({ type: 'eni-detached', at, eniId: e.view.NetworkInterfaceId, subnetId: e.view.SubnetId });
  }
}
