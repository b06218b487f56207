// The exporter's metrics: gauges are computed from the cache at scrape time (never from AWS), so a scrape
// is cheap and always consistent with /api and /admit. HELP says so, as the exporter guidelines ask.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { LifecycleEvents, LifecycleTracker } from '../lifecycle/tracker.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { SubnetView, TargetRef } from '../snapshot/types.js';
import { rejectedStateRecords } from '../state-file.js';
import { buildRevision, VERSION } from '../version.js';

const CACHED = '(from the last successful sample, cached)';
/** Every per-subnet series starts with these, in this order. */
export const SUBNET_LABELS = ['subnet_id', 'subnet', 'account_id', 'region'] as const;
/** Every per-target series. */
export const TARGET_LABELS = ['account_id', 'region'] as const;

/** The labels of a per-target series. */
export const targetLabels = (t: TargetRef) => ({ account_id: t.account, region: t.region });

/** Minutes to two hours: Glue's linger (up to 60+ min) and available tail (30-40 min) both resolve here. */
export const DURATION_BUCKETS = [60, 120, 300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3000, 3600, 4500, 5400, 7200];

export interface SampleStatus {
  /** undefined before the first sample attempt. */
  lastSuccess?: boolean;
  lastDurationSeconds?: number;
  /** Wall-clock time (ms) the last good sample completed: the exporter's own health, real time even in demo. */
  lastGoodAt?: number;
}

export interface ExporterMetrics {
  registry: Registry;
  /** `target`: the target's id (TargetMetricsSource.id); its labels are read at scrape time. */
  awsRequest(api: string, target: string): void;
  sampleError(api: string, target: string): void;
  lifecycleEvents: LifecycleEvents;
}

/** One target as the metrics read it: its labels, its lifecycle memory, its last sample. */
export interface TargetMetricsSource {
  /** The cache slot id (SnapshotCache.targetOf). */
  id: string;
  ref(): TargetRef;
  tracker: LifecycleTracker;
  status: SampleStatus;
}

export function createExporterMetrics(deps: {
  cache: SnapshotCache;
  targets: () => readonly TargetMetricsSource[];
  clock: Clock;
  /** The `subnet` label of a subnet id (configured or learned name). */
  nameOf: (subnetId: string) => string;
  registry?: Registry;
}): ExporterMetrics {
  const registry = deps.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'glue_eni_exporter_build_info',
    help: 'The build this exporter runs; always 1 (version from package.json, revision the git commit, nodejs_version the runtime).',
    labelNames: ['version', 'revision', 'nodejs_version'],
    registers: [registry],
  }).set({ version: VERSION, revision: buildRevision(), nodejs_version: process.version }, 1);
  const { cache } = deps;
  const { nameOf } = deps;
  const labels = (s: SubnetView) => ({ subnet_id: s.subnetId, subnet: s.name, account_id: s.account, region: s.region });
  const subnets = () => cache.current()?.subnets ?? [];
  const targetById = (id: string | undefined) => (id === undefined ? undefined : deps.targets().find((t) => t.id === id));
  /** A subnet's labels from its id alone (lifecycle events): its view when cached, else its target's. */
  const labelsOfId = (subnetId: string) => {
    const view = cache.subnet(subnetId);
    if (view?.subnetId === subnetId) return labels(view);
    const ref = targetById(cache.targetOf(subnetId))?.ref();
    return { subnet_id: subnetId, subnet: nameOf(subnetId), account_id: ref?.account ?? '', region: ref?.region ?? '' };
  };

  /** A per-subnet gauge whose value is read from the cached view at scrape time. */
  const subnetGauge = (name: string, help: string, value: (s: SubnetView) => number | undefined) =>
    new Gauge({
      name,
      help: `${help} ${CACHED}.`,
      labelNames: SUBNET_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of subnets()) {
          const v = value(s);
          // Glue-derived values are absent, not zero, when Glue could not be read.
          if (v !== undefined) this.set(labels(s), v);
        }
      },
    });

  new Gauge({
    name: 'glue_eni_subnet_info',
    help: `Watched subnet metadata; always 1 ${CACHED}.`,
    labelNames: [...SUBNET_LABELS, 'cidr', 'availability_zone'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of subnets()) this.set({ ...labels(s), cidr: s.cidr, availability_zone: s.availabilityZone }, 1);
    },
  });
  subnetGauge('glue_eni_subnet_usable_ips', 'Usable IPv4 addresses: 2^(32-prefix) - 5 reserved by AWS', (s) => s.usable);
  subnetGauge('glue_eni_subnet_used_ips', 'IPv4 addresses held by all ENIs in the subnet, any owner and status', (s) => s.used);
  subnetGauge('glue_eni_subnet_free_ips', 'Usable minus used IPv4 addresses', (s) => s.free);
  subnetGauge('glue_eni_subnet_utilization_ratio', 'Used over usable IPv4 addresses (0-1)', (s) => (s.usable > 0 ? s.used / s.usable : 1));
  subnetGauge(
    'glue_eni_subnet_aws_available_ips',
    'AvailableIpAddressCount reported by DescribeSubnets (cross-check of free)',
    (s) => s.awsAvailable,
  );
  subnetGauge('glue_eni_lingering_enis', 'Glue in-use ENIs beyond the workers of active job runs', (s) => s.lingering);
  subnetGauge('glue_eni_job_runs_active', 'Glue job runs in STARTING, RUNNING, STOPPING or WAITING bound to the subnet', (s) => s.activeRuns?.length);
  subnetGauge('glue_eni_workers_active', 'Workers of the active Glue job runs bound to the subnet', (s) => s.activeWorkers);

  new Gauge({
    name: 'glue_eni_enis',
    help: `ENIs in the subnet by status and owner (glue or other) ${CACHED}.`,
    labelNames: [...SUBNET_LABELS, 'status', 'owner'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of subnets()) {
        // The two states that hold Glue's cleanup tail are always present, so queries never see gaps.
        const counts: Record<string, number> = { 'in-use|glue': 0, 'in-use|other': 0, 'available|glue': 0, 'available|other': 0 };
        for (const [k, v] of Object.entries(s.enisByStatusOwner)) counts[k] = v;
        for (const [k, v] of Object.entries(counts)) {
          const [status, owner] = k.split('|');
          this.set({ ...labels(s), status, owner }, v);
        }
      }
    },
  });

  new Gauge({
    name: 'glue_eni_job_workers',
    help: `Configured workers of each Glue job that can land in the subnet through its connection ${CACHED}.`,
    labelNames: [...SUBNET_LABELS, 'glue_job', 'connection'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of subnets()) {
        for (const j of s.jobs ?? []) this.set({ ...labels(s), glue_job: j.job, connection: j.connection }, j.workers ?? 0);
      }
    },
  });

  const ageGauge = (name: string, help: string, pick: 'oldestAvailableAgeSeconds' | 'oldestLingeringAgeSeconds') =>
    subnetGauge(name, help, (s) => targetById(cache.targetOf(s.subnetId))?.tracker.ages(s.subnetId, deps.clock.now())[pick]);
  ageGauge('glue_eni_oldest_available_age_seconds', 'Age of the oldest ENI in state available (0 when none)', 'oldestAvailableAgeSeconds');
  ageGauge(
    'glue_eni_oldest_lingering_age_seconds',
    'Age of the oldest lingering Glue ENI, from its job end when known (0 when none)',
    'oldestLingeringAgeSeconds',
  );

  const availableDuration = new Histogram({
    name: 'glue_eni_available_duration_seconds',
    help: 'Time an ENI spent in state available before it was deleted, observed across samples.',
    labelNames: SUBNET_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const lingerDuration = new Histogram({
    name: 'glue_eni_linger_duration_seconds',
    help: 'Time a Glue ENI stayed in-use after its job run completed, observed across samples.',
    labelNames: SUBNET_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  new Counter({
    name: 'glue_eni_exhaustion_failures_total',
    help: 'Glue job runs that failed because the subnet did not have enough free addresses, each run counted once.',
    // `glue_job`, not `job`: Prometheus's own target label `job` would clobber it.
    labelNames: [...SUBNET_LABELS, 'glue_job'],
    registers: [registry],
    // Totals live in the lifecycle memory, which survives restarts: a restart is not a counter reset.
    collect() {
      this.reset();
      for (const t of deps.targets()) {
        const ref = t.ref();
        for (const [key, n] of t.tracker.failureTotals()) {
          const [subnetId, job] = key.split('|');
          this.inc({ subnet_id: subnetId, subnet: nameOf(subnetId), account_id: ref.account, region: ref.region, glue_job: job }, n);
        }
      }
    },
  });

  /** A per-target gauge read from each target's last sample at scrape time. */
  const targetGauge = (name: string, help: string, value: (t: TargetMetricsSource) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: TARGET_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of deps.targets()) {
          const v = value(t);
          if (v !== undefined) this.set(targetLabels(t.ref()), v);
        }
      },
    });
  // 0 until a sample succeeds, as an unlabelled gauge always read: a target never sampled is no success.
  targetGauge('glue_eni_sample_success', "Whether the target's last sample of AWS succeeded (1) or failed (0).", (t) =>
    t.status.lastSuccess ? 1 : 0,
  );
  targetGauge('glue_eni_sample_duration_seconds', "Duration of the target's last sample of AWS.", (t) => t.status.lastDurationSeconds);
  targetGauge(
    'glue_eni_last_sample_timestamp_seconds',
    "Wall-clock time the target's last successful sample completed, in seconds since the epoch.",
    (t) => (t.status.lastGoodAt === undefined ? undefined : t.status.lastGoodAt / 1000),
  );
  targetGauge('glue_eni_glue_data_known', "Whether the target's last good sample could read Glue (1) or carries EC2 data only (0).", (t) => {
    const snap = cache.targetSnapshot(t.id);
    return snap?.glueKnown ? 1 : 0;
  });
  new Counter({
    name: 'glue_eni_state_records_rejected_total',
    help: 'Records of a state file (lifecycle.json, bypass.json) set aside on load for failing their schema.',
    labelNames: ['file'],
    registers: [registry],
    collect() {
      this.reset();
      // Both files always show, so a rate() over them never starts from a missing series.
      const counts = new Map([['lifecycle.json', 0], ['bypass.json', 0], ...rejectedStateRecords()]);
      for (const [file, n] of counts) this.inc({ file }, n);
    },
  });
  /**
   * A per-target counter, counted by target id and labelled at scrape time: the single-account form learns its
   * account from its first sample, and the requests of that sample must not stay behind under account_id="".
   */
  const targetCounter = (name: string, help: string) => {
    const counts = new Map<string, Map<string, number>>();
    new Counter({
      name,
      help,
      labelNames: [...TARGET_LABELS, 'api'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of deps.targets()) {
          const labels = targetLabels(t.ref());
          for (const [api, n] of counts.get(t.id) ?? []) this.inc({ ...labels, api }, n);
        }
      },
    });
    return (api: string, target: string) => {
      let byApi = counts.get(target);
      if (!byApi) counts.set(target, (byApi = new Map()));
      byApi.set(api, (byApi.get(api) ?? 0) + 1);
    };
  };
  const sampleError = targetCounter(
    'glue_eni_sample_errors_total',
    'Failed AWS reads during samples (after retries), by target and API; api="deadline" counts samples abandoned at their deadline.',
  );
  const awsRequest = targetCounter(
    'glue_eni_aws_requests_total',
    'HTTP requests sent to AWS, retries included, by target and API (AssumeRole included).',
  );

  return {
    registry,
    awsRequest,
    sampleError,
    lifecycleEvents: {
      availableDuration: (id, seconds) => availableDuration.observe(labelsOfId(id), seconds),
      lingerDuration: (id, seconds) => lingerDuration.observe(labelsOfId(id), seconds),
    },
  };
}
