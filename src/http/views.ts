// JSON shapes of the cache for /api: snake_case, ISO times, ages in seconds.
import type { SubnetAdmissionStatus } from '../admission/service.js';
import { attributeEni } from '../snapshot/attribution.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function subnetSummary(s: SubnetView) {
  return {
    subnet_id: s.subnetId,
    subnet: s.name,
    account: s.account,
    region: s.region,
    cidr: s.cidr,
    availability_zone: s.availabilityZone,
    usable_ips: s.usable,
    used_ips: s.used,
    free_ips: s.free,
    aws_available_ips: s.awsAvailable,
    utilization_ratio: utilizationRatio(s),
    total_enis: s.totalEnis,
    in_use: s.inUse,
    available: s.available,
    enis_by_status_owner: s.enisByStatusOwner,
    // null, not 0, when Glue could not be read: unknown is not empty.
    lingering: s.lingering ?? null,
    active_runs:
      s.activeRuns?.map((r) => ({ job: r.job, run_id: r.runId, state: r.state, started_on: iso(r.startedOn), workers: r.workers })) ?? null,
    active_workers: s.activeWorkers ?? null,
    jobs: s.jobs ?? null,
    exhaustion_failures: s.exhaustionFailures?.map((f) => ({ job: f.job, run_id: f.runId, at: iso(f.at) })) ?? null,
  };
}

export function snapshotHeader(snap: Snapshot, ageSeconds: number | undefined, fresh: boolean) {
  return {
    taken_at: iso(snap.takenAt),
    age_seconds: ageSeconds === undefined ? null : Number(ageSeconds.toFixed(3)),
    fresh,
    glue_known: snap.glueKnown,
    glue_error: snap.glueError ?? null,
  };
}

/** Utilization as a ratio (1 when the subnet has no usable address), rounded for JSON and the page alike. */
export const utilizationRatio = (s: SubnetView) => (s.usable > 0 ? Number((s.used / s.usable).toFixed(4)) : 1);

/** Exhaustion failures whose run started on the UTC day of `now`. */
export function exhaustionFailuresToday(s: SubnetView, now: number): number | undefined {
  if (!s.exhaustionFailures) return undefined;
  const dayStart = now - (now % 86_400_000);
  return s.exhaustionFailures.filter((f) => f.at !== undefined && f.at >= dayStart && f.at <= now).length;
}

/** The admission side of one subnet, from memory (nothing recorded, reserved or enqueued). */
export function admissionSummary(a: SubnetAdmissionStatus) {
  return {
    policy: a.settings.policy,
    buffer: a.buffer,
    headroom_workers: a.headroom,
    reserved_ips: a.reserved,
    queue_length: a.queueLength,
    // Absent queue → null here too: JSON has no Infinity, and "none predicted" is null like /admit's eta_seconds.
    queue_head_eta_seconds: a.headEtaSeconds ?? null,
    predicted_free_ips: Object.fromEntries(a.predictedFree.map((p) => [p.horizon, p.free])),
  };
}

export function eniList(s: SubnetView, now: number) {
  const jobRun = jobRunOf(s);
  return s.enis.map((e) => ({
    eni_id: e.id,
    status: e.status,
    owner: e.owner,
    addresses: e.addresses,
    attach_time: iso(e.attachTime),
    available_since: iso(e.availableSince),
    available_age_seconds: e.availableSince === undefined ? null : Math.max(0, Math.round((now - e.availableSince) / 1000)),
    lingering: e.lingering,
    description: e.description,
    requester_id: e.requesterId ?? null,
    // null when not Glue's, when Glue data is unknown, or when no run read was open at its attach time.
    job_run: jobRun(e),
  }));
}

/**
 * Attribution per ENI, computed once per attach time: a run's workers attach within seconds of each other, so a
 * subnet of tens of thousands of ENIs has far fewer distinct attach times, and each costs a pass over the runs.
 */
function jobRunOf(s: SubnetView) {
  const runs = s.runs;
  const byAttach = new Map<number, ReturnType<typeof attributeEni>>();
  return (e: SubnetView['enis'][number]) => {
    if (!runs || e.owner !== 'glue' || e.attachTime === undefined) return null;
    let a = byAttach.get(e.attachTime);
    if (a === undefined) {
      a = attributeEni(e, runs);
      byAttach.set(e.attachTime, a);
    }
    return a && { job: a.job, run_id: a.runId, confidence: a.confidence };
  };
}
