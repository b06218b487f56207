// Admission metrics, computed at scrape time from the service's in-memory state (the exporter's cache, the
// store's recorded window and reservations): a scrape never reads the store over the network nor calls AWS.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdmissionService, SubnetLabels } from '../admission/service.js';
import type { AdmissionStore } from '../store/types.js';
import { SUBNET_LABELS } from './exporter.js';

const CACHED = "(from the exporter's cache and recorded observations)";

export interface AdmissionMetricsDeps {
  service: AdmissionService;
  store: AdmissionStore;
}

/** dag_run_id is client input: N series per subnet at most, but cap each value's length too. */
function labelSafe(v: string | undefined): string {
  if (!v) return '';
  return v.length > 64 ? `${v.slice(0, 63)}…` : v;
}

export function registerAdmissionMetrics(registry: Registry, deps: AdmissionMetricsDeps): void {
  const { service, store } = deps;
  /** A subnet's labels, in the order of SUBNET_LABELS: its target is the one the service names. */
  const subnet = (s: SubnetLabels) => ({ subnet_id: s.subnetId, subnet: s.subnet, account_id: s.account, region: s.region });

  new Gauge({
    name: 'glue_eni_cleanup_buffer',
    help: `Cleanup buffer in IP addresses the admission policy holds back per subnet ${CACHED}.`,
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) this.set(subnet(s), s.buffer);
    },
  });

  new Gauge({
    name: 'glue_eni_admission_headroom_workers',
    help: `Most workers /admit would admit now: free − reserved − buffer, floored at 0 ${CACHED}.`,
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) this.set(subnet(s), s.headroom);
    },
  });

  new Gauge({
    name: 'glue_eni_reserved_ips',
    help: `IP addresses reserved by admissions whose workers are not yet visible as ENIs ${CACHED}.`,
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) this.set(subnet(s), s.reserved);
    },
  });

  new Gauge({
    name: 'glue_eni_admission_window_enis',
    help: `Buffer-source value (ENIs) of each observation in the current rolling window, slot 1 = newest ${CACHED}.`,
    labelNames: [...SUBNET_LABELS, 'slot', 'dag_run_id'],
    registers: [registry],
    collect() {
      // Reset first: the window slides, and a slot's old dag_run_id must not linger as a stale series.
      this.reset();
      for (const s of service.status()) {
        s.window.forEach((e, i) => {
          this.set({ ...subnet(s), slot: String(i + 1), dag_run_id: labelSafe(e.dagRunId) }, e.value);
        });
      }
    },
  });

  new Gauge({
    name: 'glue_eni_predicted_free_ips',
    help: `Free IP addresses predicted at each horizon from the last sample, conservatively (p90: at least this many with 90 % probability), reservations subtracted; from ENI ages and the learned linger and available durations ${CACHED}.`,
    labelNames: [...SUBNET_LABELS, 'horizon'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) {
        for (const p of s.predictedFree) this.set({ ...subnet(s), horizon: p.horizon }, p.free);
      }
    },
  });

  new Gauge({
    name: 'glue_eni_queue_length',
    help: `Launches waiting in the subnet's admission queue (live tickets) ${CACHED}.`,
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) this.set(subnet(s), s.queueLength);
    },
  });

  new Gauge({
    name: 'glue_eni_queue_head_eta_seconds',
    help: `Predicted seconds until the head of the subnet's admission queue launches; +Inf when not within the forecast horizon, absent when nobody waits ${CACHED}.`,
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of service.status()) {
        if (s.headEtaSeconds === undefined) continue;
        this.set(subnet(s), s.headEtaSeconds ?? Number.POSITIVE_INFINITY);
      }
    },
  });

  new Counter({
    name: 'glue_eni_deadline_misses_total',
    help: '/admit answers will_miss_deadline: true (the launch cannot start before its deadline), each ticket counted once.',
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      // Every watched subnet shows from 0: increase() over a series that appears at 1 would miss the first miss.
      for (const s of service.status()) this.inc(subnet(s), 0);
      for (const m of service.deadlineMisses()) this.inc(subnet(m), m.count);
    },
  });

  new Counter({
    name: 'glue_eni_admission_decisions_total',
    help: '/admit answers by decision: admit, wait, or error (bad input, stale data, store failure).',
    labelNames: [...SUBNET_LABELS, 'decision'],
    registers: [registry],
    collect() {
      // The service owns the counts; mirror them so that any number of registries agree.
      this.reset();
      for (const c of service.decisionCounts()) this.inc({ ...subnet(c), decision: c.decision }, c.count);
    },
  });

  new Counter({
    name: 'glue_eni_gate_bypass_addresses_total',
    help: 'IP addresses taken by ENIs that no /admit reservation covered (manual or ungated launches, other services), since the subnet was first watched; persisted across restarts.',
    labelNames: SUBNET_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of service.bypassTotals()) this.inc(subnet(b), b.addresses);
    },
  });

  new Gauge({
    name: 'glue_eni_store_pending_writes',
    help: 'Admission store writes acknowledged or in progress but not yet in the store of record: file, queued for the next group commit or in flight; dynamodb, in flight or journaled locally while DynamoDB is unreachable.',
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.set({ store: store.type }, store.pendingWrites());
    },
  });

  new Gauge({
    name: 'glue_eni_store_bytes',
    help: 'Bytes the admission store holds on local disk: file, the admission log (bounded by compaction); dynamodb, the outage journal.',
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.set({ store: store.type }, store.storeBytes());
    },
  });

  new Counter({
    name: 'glue_eni_store_rejected_records_total',
    help: "Records read from the store's files at start-up that failed validation: set aside in <file>.rejected, never used.",
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ store: store.type }, store.openReport.rejected);
    },
  });

  new Counter({
    name: 'glue_eni_store_errors_total',
    help: 'Failed admission store operations (appends, DynamoDB calls) since start.',
    labelNames: ['store'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ store: store.type }, store.errorCount());
    },
  });
}
