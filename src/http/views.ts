// JSON shapes of the cache for /api: snake_case, ISO times, ages in seconds.
import type { Snapshot, SubnetView } from '../snapshot/types.js';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function subnetSummary(s: SubnetView) {
  return {
    subnet_id: s.subnetId,
    subnet: s.name,
    cidr: s.cidr,
    availability_zone: s.availabilityZone,
    usable_ips: s.usable,
    used_ips: s.used,
    free_ips: s.free,
    aws_available_ips: s.awsAvailable,
    utilization_ratio: s.usable > 0 ? Number((s.used / s.usable).toFixed(4)) : 1,
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

export function eniList(s: SubnetView, now: number) {
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
  }));
}
