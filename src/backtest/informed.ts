// The informed ETA: a reference, backtest only, for how good an ETA can be without knowing the future. It
// reads the queue as the gate does and the same likely (p50) course, but from the scenario's true duration
// distributions (the spans the world draws from, not the draws) and from the world's exact ENI states (each
// ENI's state and age, each running job's start), where the gate has a sample up to a minute old and durations
// learned from it. What it still misses is what nobody can know at the answer: the draws themselves, the runs
// that arrive later, the tickets ahead that give up.
import { byArrival, capacityProfile, schedule, ticketAlive, type QueueDecision } from '../admission/queue.js';
import {
  DURATION_CAP_MINUTES,
  MINUTE_MS,
  predictFree,
  type DurationModel,
  type DurationPmf,
  type FreeForecast,
  type PredictSubnet,
} from '../admission/predict.js';
import type { Ticket } from '../admission/types.js';
import type { ActiveRun, EniView } from '../snapshot/types.js';
import { adhocJobName, type EniTruth, type World } from '../sim/model.js';
import type { Scenario, Span } from '../sim/scenario.js';

/** P(D in minute bin k) for D uniform on [min, max] minutes, in the bins of predict.ts (⌈minutes⌉). */
export function uniformMinutesPmf(span: Span): DurationPmf {
  const pmf = new Float64Array(DURATION_CAP_MINUTES + 1);
  const { min, max } = span;
  if (max <= min) {
    pmf[Math.min(DURATION_CAP_MINUTES, Math.max(0, Math.ceil(min)))] = 1;
    return pmf;
  }
  for (let k = Math.max(0, Math.ceil(min)); k - 1 < max; k++) {
    const mass = (Math.min(k, max) - Math.max(k - 1, min)) / (max - min);
    if (mass > 0) pmf[Math.min(k, DURATION_CAP_MINUTES)] += mass;
  }
  return pmf;
}

export class InformedEta {
  private readonly model: DurationModel;
  private readonly runs = new Map<string, DurationPmf>();
  /** The forecast of one subnet at one moment and state of the world (pokes in a row share it). */
  private cache: { key: string; subnet: PredictSubnet; forecast: FreeForecast } | undefined;

  constructor(
    scenario: Scenario,
    private readonly world: World,
    /** The live Glue ENIs (deleted ones may linger until the backtest's next sample: skipped). */
    private readonly glueEnis: ReadonlyMap<string, EniTruth>,
  ) {
    this.model = {
      linger: uniformMinutesPmf(scenario.lifecycle.lingerInUseMinutes),
      available: uniformMinutesPmf(scenario.lifecycle.availableMinutes),
    };
    for (const j of scenario.jobs) this.runs.set(j.name, uniformMinutesPmf(j.durationMinutes));
    scenario.adhoc.forEach((a, i) => {
      const name = adhocJobName(scenario, i);
      if (!this.runs.has(name)) this.runs.set(name, uniformMinutesPmf(a.durationMinutes));
    });
  }

  /** The world's subnet now, in the shape the release forecast reads. */
  private subnetAt(subnetId: string): PredictSubnet {
    const enis: EniView[] = [];
    const active = new Map<string, ActiveRun>();
    for (const tr of this.glueEnis.values()) {
      if (tr.subnetId !== subnetId || tr.deletedAt !== undefined) continue;
      if (tr.runEndedAt === undefined) {
        // Its run still runs: its addresses come back together, after the run's end (the run term).
        const id = tr.jobRunId ?? tr.id;
        const r = active.get(id);
        if (r) r.workers++;
        else {
          const startedOn = (tr.jobRunId !== undefined ? this.world.jobRun(tr.jobRunId)?.StartedOn : undefined) ?? tr.createdAt;
          active.set(id, { runId: id, job: tr.jobName ?? '', state: 'RUNNING', workers: 1, startedOn });
        }
        continue;
      }
      const available = tr.detachedAt !== undefined;
      const eni: EniView = {
        id: tr.id,
        owner: 'glue',
        status: available ? 'available' : 'in-use',
        lingering: !available,
        addresses: 1,
        description: '',
      };
      if (available) eni.availableSince = tr.detachedAt;
      else eni.jobEndedAt = tr.runEndedAt;
      enis.push(eni);
    }
    return { subnetId, free: this.world.freeAddresses(subnetId), enis, activeRuns: [...active.values()] };
  }

  /**
   * The ETA (epoch ms; null: no room within the horizon) of `workers` waiting behind the subnet's tickets that
   * arrived before `own` (all of them when it holds none yet), under the policy's margin.
   */
  etaAt(subnetId: string, at: number, tickets: readonly Ticket[], ownTicketId: string | undefined, workers: number, buffer: number): number | null {
    const key = `${subnetId}@${at}#${this.world.enisVersion()}`;
    if (this.cache?.key !== key) {
      const subnet = this.subnetAt(subnetId);
      this.cache = { key, subnet, forecast: predictFree(subnet, this.model, { at, runs: { pmf: (job) => this.runs.get(job) } }) };
    }
    const { subnet, forecast } = this.cache;
    const alive = tickets.filter((t) => ticketAlive(t, at));
    const own = alive.find((t) => t.id === ownTicketId);
    const ahead = alive.filter((t) => t !== own && (!own || byArrival(t, own) < 0)).sort(byArrival);
    // The world's free addresses already hold every admitted launch: nothing is reserved beside them.
    const decision: QueueDecision = { admit: false, free: subnet.free, reserved: 0, buffer };
    const { start } = schedule(ahead, capacityProfile(decision, forecast, at, 'likely'), workers);
    return start === null || start === undefined ? null : at + Math.max(start, 1) * MINUTE_MS;
  }
}
