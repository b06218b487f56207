// The world's internal state: the records behind each view, the event queue and the id source. Types only.
import type { CronExpression } from 'cron-parser';
import type { Cidr } from './cidr.js';
import type { WorldEvent } from './events.js';
import type { EventQueue } from './queue.js';
import type { Connection, EniTruth, Job, JobRun, NetworkInterface } from './records.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';

export interface SubnetState {
  id: string;
  name?: string;
  cidr: string;
  az: string;
  parsed: Cidr;
  /** Free addresses; allocation picks a seeded random index and swap-removes. */
  free: number[];
  rng: Rng;
}

export interface EniState {
  view: NetworkInterface;
  ips: number[];
  truth: EniTruth;
}

export interface RunState {
  run: JobRun;
  subnetId: string;
  /** One ENI per worker, created at launch (available), attached seconds later (in-use). */
  eniIds: string[];
  endAt: number;
}

export interface JobState {
  job: Job;
  connection: string;
  durationMinutes: { min: number; max: number };
  cron?: CronExpression;
  /** Launches due at the same instant go out in scenario order (after the releases due then). */
  rank: number;
  ordinal: number;
  runs: RunState[];
}

export interface WorldState {
  readonly scenario: Scenario;
  /** The world's time: only moves forward, to each event as it is applied. */
  t: number;
  readonly queue: EventQueue<WorldEvent>;
  readonly subnets: Map<string, SubnetState>;
  readonly connections: Map<string, Connection>;
  readonly jobs: Map<string, JobState>;
  /** Current ENIs (not deleted). */
  readonly enis: Map<string, EniState>;
  /** Bumped by every change to an ENI (created, attached, detached, deleted): what a view of them was read at. */
  enisVersion: number;
  /** Every ENI ever created, deleted ones included, in creation order. */
  readonly truth: EniTruth[];
  readonly runs: Map<string, RunState>;
  /** Draws ENI, MAC, attachment, requester and instance ids, in creation order. */
  readonly ids: Rng;
  /** Tells the listener, synchronously. */
  readonly emit: (event: WorldEvent) => void;
}
