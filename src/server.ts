// Wires one exporter process: AWS → sampler → cache → readers (/metrics, /api, /admit).
import type { AddressInfo } from 'node:net';
import { AdmissionService } from './admission/service.js';
import { assumeRoleCredentials } from './aws/credentials.js';
import { AwsReader, type AwsReaderOptions } from './aws/reader.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigError } from './config/errors.js';
import type { Config } from './config/load.js';
import { unmatchedOverrides } from './config/schema.js';
import { resolveTargets, type SampleTarget } from './config/targets.js';
import { createAdmitRouter } from './http/admit.js';
import { createApp } from './http/app.js';
import { SnapshotHistory } from './snapshot/history.js';
import { serveHttp, type HttpLimits } from './http/serve.js';
import type { WebConfig } from './http/web-config.js';
import { LifecycleTracker } from './lifecycle/tracker.js';
import { parseListen } from './listen.js';
import { registerLogMetrics, type Logger } from './log.js';
import { registerAdmissionMetrics } from './metrics/admission.js';
import { createExporterMetrics, type ExporterMetrics, type TargetMetricsSource } from './metrics/exporter.js';
import { SamplerGroup, Slots } from './sampler/group.js';
import { Sampler, type SampleSource } from './sampler/sampler.js';
import { SnapshotCache } from './snapshot/cache.js';
import { openStore, type AdmissionStore, type StoreDeps } from './store/index.js';
import { VERSION } from './version.js';

export interface ExporterOptions {
  config: Config;
  /** host:port; port 0 picks a free one. */
  listen: string;
  logger: Logger;
  clock?: Clock;
  /** Defaults to AWS through the SDK (one reader per target); tests may pass another source for every target. */
  source?: SampleSource;
  /** Overrides for the AWS reader (e.g. a retry strategy without backoff in tests). */
  readerOptions?: Partial<AwsReaderOptions>;
  /** A ready DynamoDB client for the admission store (tests); otherwise built from config. */
  dynamodb?: StoreDeps['dynamodb'];
  /** Shorter HTTP timeouts and shutdown deadline (tests); the defaults are HTTP_LIMITS. */
  httpLimits?: Partial<HttpLimits>;
  /** TLS and basic auth for every endpoint (`--web.config.file`, loaded by loadWebConfig). */
  web?: WebConfig;
}

export interface RunningExporter {
  config: Config;
  cache: SnapshotCache;
  metrics: ExporterMetrics;
  clock: Clock;
  logger: Logger;
  store: AdmissionStore;
  admission: AdmissionService;
  url: string;
  port: number;
  /** Every target's sampler on one schedule. */
  sampler: SamplerGroup;
  /** The first target's lifecycle memory (the single-account form's only one). */
  tracker: LifecycleTracker;
  firstSample: Promise<boolean>;
  /** Apply a re-validated config; fields that need a restart are refused with their name. */
  reload(next: Config): void;
  close(): Promise<void>;
}

const RESTART_ONLY = ['dataDir', 'store', 'region', 'endpoints', 'targets', 'account'] as const;

/** Basic auth and the /admit bearer token would both need the one Authorization header a request carries. */
function authConflict(config: Config, web: WebConfig | undefined): void {
  if (web?.users && config.admission.token !== undefined) {
    throw new ConfigError(
      `${web.file}: basic_auth_users: cannot be used with admission.token (or GLUE_ENI_ADMIT_TOKEN): both need the Authorization header; keep one`,
    );
  }
}

export async function startExporter(opts: ExporterOptions): Promise<RunningExporter> {
  const { config, logger } = opts;
  authConflict(config, opts.web);
  const clock = opts.clock ?? systemClock;
  const cache = new SnapshotCache();
  const targets = resolveTargets(config);
  // A target's current config: the single-account form's subnets and discovery may change on reload.
  const targetNow = (id: string) => () => resolveTargets(config).find((t) => t.id === id) ?? targets.find((t) => t.id === id)!;
  for (const t of targets) {
    cache.addTarget(
      t.id,
      { account: t.account, region: t.region ?? '' },
      t.subnets.flatMap((s) => (s.name ? [s.id, s.name] : [s.id])),
    );
  }

  let group: SamplerGroup | undefined;
  const sources: TargetMetricsSource[] = [];
  const metrics = createExporterMetrics({
    cache,
    targets: () => sources,
    clock,
    nameOf: (id) => group?.subnetName(id) ?? id,
  });

  // An override key checked only once discovery shows the watched subnets: warned about once per key.
  const warnedOverrides = new Set<string>();
  const checkOverrides = () => {
    const snapshot = cache.current();
    for (const { key, message } of unmatchedOverrides(config.admission.subnets, snapshot?.subnets ?? [])) {
      if (warnedOverrides.has(key)) continue;
      warnedOverrides.add(key);
      logger.warn({ field: `admission.subnets.${key}`, reason: message }, 'admission override matches no watched subnet; it applies to none');
    }
  };
  const slots = new Slots(() => config.sample.concurrency);
  const trackers: LifecycleTracker[] = [];
  const samplers = targets.map((t) => {
    const tracker = new LifecycleTracker({ dataDir: config.dataDir, fileName: t.stateFile, intervalSeconds: config.sample.intervalSeconds });
    const note = tracker.load();
    if (note) logger.warn(t.id ? { target: t.id } : {}, note);
    trackers.push(tracker);
    let sampler: Sampler | undefined;
    const ref = () => sampler?.targetRef() ?? { account: t.account, region: t.region ?? '' };
    sampler = new Sampler({
      source: opts.source ?? targetReader(t, config, clock, (api) => metrics.awsRequest(api, t.id), opts.readerOptions),
      cache,
      tracker,
      config,
      target: targetNow(t.id),
      clock,
      logger,
      slot: () => slots.acquire(),
      onError: (api) => metrics.sampleError(api, t.id),
      // Checked once every target has sampled: a key may name a subnet of a target not yet read.
      onSample: () => {
        if (cache.targets().every((s) => s.ageSeconds !== undefined)) checkOverrides();
      },
    });
    sources.push({ id: t.id, ref, tracker, status: sampler.status });
    return sampler;
  });
  group = new SamplerGroup(samplers, config);
  const sampler = group;
  const tracker = trackers[0]!;

  const store = await openStore(config, { clock, logger, dynamodb: opts.dynamodb });
  const admission = new AdmissionService({ cache, config, store, clock, logger });
  admission.start();
  // The durations the histograms count are what release prediction learns from.
  for (const t of trackers) {
    t.events = {
      availableDuration: (id, seconds) => {
        metrics.lifecycleEvents.availableDuration(id, seconds);
        admission.learnDuration(id, 'available', seconds);
      },
      lingerDuration: (id, seconds) => {
        metrics.lifecycleEvents.lingerDuration(id, seconds);
        admission.learnDuration(id, 'linger', seconds);
      },
    };
  }
  registerAdmissionMetrics(metrics.registry, { service: admission, store });
  registerLogMetrics(metrics.registry);

  const history = new SnapshotHistory();
  history.follow(cache);
  const app = createApp({
    cache,
    registry: metrics.registry,
    clock,
    logger,
    maxAgeSeconds: () => config.sample.maxAgeSeconds,
    version: VERSION,
    admissionStatus: () => admission.status(),
    history,
    links: () => ({ runbook: config.links.runbookUrl, grafana: config.links.grafanaUrl }),
    routers: [createAdmitRouter({ cache, config, service: admission, logger })],
  });

  const { host, port } = parseListen(opts.listen);
  const http = await serveHttp(app, {
    host,
    port,
    logger,
    limits: opts.httpLimits,
    web: opts.web,
    prototypes: { request: app.request, response: app.response },
  });
  const bound = (http.server.address() as AddressInfo).port;
  const url = `${opts.web?.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  logger.info(
    {
      url,
      subnets: targets.flatMap((t) => t.subnets.map((s) => s.id)),
      ...(config.targets ? { targets: targets.map((t) => t.id), concurrency: config.sample.concurrency } : {}),
      schedule: config.sample.schedule,
    },
    'exporter listening',
  );

  const firstSample = sampler.start();
  let closing: Promise<void> | undefined;
  return {
    config,
    cache,
    metrics,
    clock,
    logger,
    store,
    admission,
    url,
    port: bound,
    sampler,
    tracker,
    firstSample,
    reload(next: Config) {
      authConflict(next, opts.web);
      for (const field of RESTART_ONLY) {
        if (JSON.stringify(next[field]) !== JSON.stringify(config[field])) {
          throw new Error(`${field}: cannot change on reload; restart the exporter`);
        }
      }
      const scheduleChanged = next.sample.schedule !== config.sample.schedule;
      // Mutated in place: every component holds this same object and reads it at use time.
      Object.assign(config, next);
      if (scheduleChanged) sampler.reschedule();
    },
    close() {
      closing ??= (async () => {
        // Stop taking connections at once; the sample in flight finishes, and so do the requests in flight, up to
        // the shutdown deadline (a slow or stuck client is cut off there).
        const httpClosed = http.close();
        await sampler.stop();
        await httpClosed;
        admission.stop();
        await admission.idle();
        // Only now: every acknowledged observation and reservation is already durable.
        await store.close();
        logger.info('exporter stopped');
      })();
      return closing;
    },
  };
}

/** A target's own reader: its own clients (region, credentials, retry and throttling state), its own counters. */
function targetReader(
  t: SampleTarget,
  config: Config,
  clock: Clock,
  onRequest: (api: string) => void,
  readerOptions: Partial<AwsReaderOptions> | undefined,
): AwsReader {
  const region = t.region ?? config.region;
  const reader: AwsReaderOptions = {
    endpoints: config.endpoints,
    runLookbackHours: config.glue.runLookbackHours,
    now: () => clock.now(),
    onRequest,
    ...readerOptions,
  };
  if (region !== undefined) reader.region = region;
  if (t.roleArn) {
    const role: Parameters<typeof assumeRoleCredentials>[0] = { roleArn: t.roleArn, onRequest };
    if (t.externalId !== undefined) role.externalId = t.externalId;
    if (region !== undefined) role.region = region;
    if (config.endpoints.sts !== undefined) role.endpoint = config.endpoints.sts;
    reader.credentials = assumeRoleCredentials(role);
  }
  return new AwsReader(reader);
}
