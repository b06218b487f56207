// A world's starting state, built from a scenario: its subnets, connections and jobs, the first launches queued,
// and the non-Glue ENIs that hold addresses from the start. Draws ids in a fixed order so a seed replays exactly.
import { CronExpressionParser } from 'cron-parser';
import { assignableAddresses, mustParseCidr } from './cidr.js';
import { allocate, createEni } from './enis.js';
import type { WorldEvent } from './events.js';
import { EventQueue } from './queue.js';
import { GLUE_VERSION } from './records.js';
import { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { JobState, WorldState } from './state.js';

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;

export function buildWorld(scenario: Scenario, emit: (event: WorldEvent) => void): WorldState {
  const w: WorldState = {
    scenario,
    t: scenario.start,
    queue: new EventQueue<WorldEvent>(),
    subnets: new Map(),
    connections: new Map(),
    jobs: new Map(),
    enis: new Map(),
    enisVersion: 0,
    truth: [],
    runs: new Map(),
    ids: new Rng(scenario.seed, 'ids'),
    emit,
  };

  for (const s of scenario.subnets) {
    const parsed = mustParseCidr(s.cidr);
    w.subnets.set(s.id, {
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
    const subnet = w.subnets.get(c.subnet)!;
    w.connections.set(c.name, {
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
  const addJob = (
    name: string,
    connection: string,
    workers: number,
    workerType: string,
    duration: { min: number; max: number },
    role: string,
    schedule?: string,
  ) => {
    const state: JobState = {
      job: {
        Name: name,
        Role: `arn:aws:iam::${scenario.account}:role/${role}`,
        Command: {
          Name: 'glueetl',
          ScriptLocation: `s3://aws-glue-assets-${scenario.account}-${scenario.region}/scripts/${name}.py`,
          PythonVersion: '3',
        },
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
      state.rank = w.jobs.size + 1;
      queueNextFiring(w, state);
    }
    w.jobs.set(name, state);
  };
  for (const j of scenario.jobs) addJob(j.name, j.connection, j.workers, j.workerType, j.durationMinutes, j.role ?? scenario.role, j.schedule);
  scenario.adhoc.forEach((a, i) => {
    const name = adhocJobName(scenario, i);
    if (!w.jobs.has(name)) addJob(name, a.connection, a.workers, 'G.1X', a.durationMinutes, scenario.role);
  });
  if (scenario.adhoc.length > 0) {
    const day = Math.floor(scenario.start / DAY);
    w.queue.push(day * DAY, { type: 'adhoc-day', at: day * DAY, day });
  }

  // Non-Glue ENIs: attached to instances, holding their addresses for the whole run.
  for (const o of scenario.otherEnis) {
    for (let n = 0; n < o.count; n++) {
      const subnet = w.subnets.get(o.subnet)!;
      const ips: number[] = [];
      for (let a = 0; a < o.addressesEach; a++) ips.push(allocate(subnet));
      createEni(w, subnet, ips, {
        description: o.description,
        requesterManaged: false,
        groups: [{ GroupId: `sg-0${new Rng(scenario.seed, `sg:other:${o.subnet}`).hex(16)}`, GroupName: 'default' }],
        attachment: { instanceId: `i-0${w.ids.hex(16)}`, ownerId: scenario.account, deleteOnTermination: true, deviceIndex: 0 },
        truth: { owner: 'other' },
        at: scenario.start,
      });
    }
  }
  return w;
}

/** Queue a scheduled job's next firing; its rank puts launches due at one instant in scenario order. */
export function queueNextFiring(w: WorldState, js: JobState): void {
  const at = js.cron!.next().getTime();
  const request = { id: '', jobName: js.job.Name, dueAt: at, workers: js.job.NumberOfWorkers, source: 'schedule' as const };
  w.queue.push(at, { type: 'launch-due', at, request }, js.rank);
}

/** The Glue job that an ad-hoc stream launches: its name, or a stable default. */
export function adhocJobName(scenario: Scenario, index: number): string {
  return scenario.adhoc[index].name ?? (index === 0 ? 'adhoc-backfill' : `adhoc-backfill-${index + 1}`);
}
