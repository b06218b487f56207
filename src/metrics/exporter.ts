// The exporter's metrics: gauges are computed from the cache at scrape time (never from AWS), so a scrape
// is cheap and always consistent with /api and /admit. HELP says so, as the exporter guidelines ask.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { LifecycleEvents, LifecycleTracker } from '../lifecycle/tracker.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { SubnetView } from '../snapshot/types.js';
import { rejectedStateRecords } from '../state-file.js';
import { buildRevision, VERSION } from '../version.js';

const CACHED = '(from the last successful sample, cached)';
const SUBNET_LABELS = ['subnet_id', 'subnet'] as const;

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
  awsRequest(api: string): void;
  sampleError(api: string): void;
  lifecycleEvents: LifecycleEvents;
}

export function createExporterMetrics(deps: {
  cache: SnapshotCache;
  tracker: LifecycleTracker;
  status: () => SampleStatus;
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
  const labels = (s: SubnetView) => ({ subnet_id: s.subnetId, subnet: s.name });
  const subnets = () => cache.current()?.subnets ?? [];

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
    subnetGauge(name, help, (s) => deps.tracker.ages(s.subnetId, deps.clock.now())[pick]);
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
      for (const [key, n] of deps.tracker.failureTotals()) {
        const [subnetId, job] = key.split('|');
        this.inc({ subnet_id: subnetId, subnet: nameOf(subnetId), glue_job: job }, n);
      }
    },
  });

  new Gauge({
    name: 'glue_eni_sample_success',
    help: 'Whether the last sample of AWS succeeded (1) or failed (0).',
    registers: [registry],
    collect() {
      const st = deps.status();
      if (st.lastSuccess !== undefined) this.set(st.lastSuccess ? 1 : 0);
    },
  });
  new Gauge({
    name: 'glue_eni_sample_duration_seconds',
    help: 'Duration of the last sample of AWS.',
    registers: [registry],
    collect() {
      const st = deps.status();
      if (st.lastDurationSeconds !== undefined) this.set(st.lastDurationSeconds);
    },
  });
  new Gauge({
    name: 'glue_eni_last_sample_timestamp_seconds',
    help: 'Wall-clock time the last successful sample completed, in seconds since the epoch.',
    registers: [registry],
    collect() {
      const st = deps.status();
      if (st.lastGoodAt !== undefined) this.set(st.lastGoodAt / 1000);
    },
  });
  new Gauge({
    name: 'glue_eni_glue_data_known',
    help: 'Whether the last good sample could read Glue (1) or carries EC2 data only (0).',
    registers: [registry],
    collect() {
      const snap = cache.current();
      if (snap) this.set(snap.glueKnown ? 1 : 0);
    },
  });
  const sampleErrors = new Counter({
    name: 'glue_eni_sample_errors_total',
    help: 'Failed AWS reads during samples (after retries), by API; api="deadline" counts samples abandoned at their deadline.',
    labelNames: ['api'],
    registers: [registry],
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
  const awsRequests = new Counter({
    name: 'glue_eni_aws_requests_total',
    help: 'HTTP requests sent to AWS, retries included, by API.',
    labelNames: ['api'],
    registers: [registry],
  });

  return {
    registry,
    awsRequest: (api) => awsRequests.inc({ api }),
    sampleError: (api) => sampleErrors.inc({ api }),
    lifecycleEvents: {
      availableDuration: (id, seconds) => availableDuration.observe({ subnet_id: id, subnet: nameOf(id) }, seconds),
      lingerDuration: (id, seconds) => lingerDuration.observe({ subnet_id: id, subnet: nameOf(id) }, seconds),
    },
  };
}
