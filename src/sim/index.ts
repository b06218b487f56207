// The AWS simulator: a scenario's worlds on a virtual clock, served over the EC2, Glue and STS wire protocols.
import type { AddressInfo } from 'node:net';
import { parseListen } from '../listen.js';
import { silentLogger, type Logger } from '../log.js';
import { VirtualClock } from './clock.js';
import { FaultInjector, type FaultSettings, type FaultUpdate } from './faults.js';
import type { World } from './model.js';
import { SimRouter } from './router.js';
import { loadScenarioFile, type Scenario } from './scenario.js';
import { createSimServer } from './server.js';

export { parseListen } from '../listen.js';
export { VirtualClock } from './clock.js';
export { FaultInjector, type FaultKind, type FaultSettings, type FaultUpdate } from './faults.js';
export * from './model.js';
export { loadScenarioFile, parseScenario, parseScenarioText, type Scenario, type ScenarioInput } from './scenario.js';
export { regionScenario, worldKey, worldSeed } from './worlds.js';

export interface StartSimulatorOptions {
  /** A parsed scenario, or the path of a scenario file. */
  scenario: Scenario | string;
  /** host:port; default 127.0.0.1:0 (an ephemeral port). */
  listen?: string;
  /** Virtual seconds per real second (default 1). */
  speed?: number;
  /** Virtual time at which the clock begins, at or after the scenario's start; the world is run up to it first. */
  startAt?: number | string | Date;
  /** Blind launcher (default true); false holds due launches for world.dueLaunches()/launchDue(). */
  autoLaunch?: boolean;
  logger?: Logger;
  /** Real milliseconds between background advances, so runs start on time with no requests (default 250). */
  tickMs?: number;
}

export interface RunningSimulator {
  url: string;
  host: string;
  port: number;
  clock: VirtualClock;
  /** The top-level world (the only one without `accounts`; else, when the top level has no subnets, the first). */
  world: World;
  /** Every world by `${account}/${region}`. */
  worlds: ReadonlyMap<string, World>;
  /**
   * Change fault injection at runtime; returns the settings now in force. With `where`, that world's own faults
   * (beside the global ones); without, the global ones.
   */
  setFaults(update: FaultUpdate, where?: { account: string; region: string }): FaultSettings;
  /** Requests received so far, by world key (`sts` for STS) and action. */
  requestCounts(): Record<string, Record<string, number>>;
  /** AssumeRole calls answered with credentials so far. */
  assumeRoleCount(): number;
  close(): Promise<void>;
}

function toTime(v: number | string | Date, field: string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t)) throw new RangeError(`${field}: expected an ISO 8601 time, got "${String(v)}"`);
  return t;
}

export async function startSimulator(opts: StartSimulatorOptions): Promise<RunningSimulator> {
  const scenario = typeof opts.scenario === 'string' ? loadScenarioFile(opts.scenario) : opts.scenario;
  const logger = opts.logger ?? silentLogger;
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:0');
  const startAt = opts.startAt === undefined ? scenario.start : toTime(opts.startAt, 'startAt');
  if (startAt < scenario.start) {
    throw new RangeError(`startAt: expected a time at or after the scenario's start ${new Date(scenario.start).toISOString()}`);
  }
  const router = new SimRouter(scenario, { autoLaunch: opts.autoLaunch ?? true });
  router.advanceAll(startAt);
  const clock = new VirtualClock({ start: startAt, speed: opts.speed ?? 1 });
  const faults = new FaultInjector(scenario.seed, scenario.faults);
  const server = createSimServer({ router, clock, faults, logger });
  // Keep-alive sockets from SDK clients must not hold close() open.
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${addr.port}`;

  const tick = setInterval(() => {
    try {
      router.advanceAll(clock.now());
    } catch (err) {
      logger.error({ err }, 'sim: advancing the world failed');
    }
  }, opts.tickMs ?? 250);
  tick.unref();

  logger.info({ url, start: new Date(startAt).toISOString(), speed: clock.speed }, 'sim: listening');
  let closed: Promise<void> | undefined;
  return {
    url,
    host: addr.address,
    port: addr.port,
    clock,
    world: router.primary.world,
    worlds: new Map([...router.worlds].map(([k, w]) => [k, w.world])),
    setFaults: (update, where) => {
      if (!where) return faults.set(update);
      const w = router.find(where.account, where.region);
      if (!w) throw new RangeError(`setFaults: no world for account ${where.account}, region ${where.region}`);
      return router.faultsOf(w).set(update);
    },
    requestCounts: () => router.requestCounts(),
    assumeRoleCount: () => router.sts.assumeRoleCount,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        clearInterval(tick);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

export interface SimCommandOptions {
  scenario: string;
  listen?: string;
  speed?: number | string;
  /** ISO time at which the virtual clock begins (default: the scenario's start). */
  start?: string;
  autoLaunch?: boolean;
  logger?: Logger;
  /** Where the URL and environment lines go (default stdout). */
  out?: NodeJS.WritableStream;
  /** Stops the command like SIGINT does (tests). */
  signal?: AbortSignal;
}

/** `glue-eni-exporter sim`: serve a scenario until SIGINT/SIGTERM. */
export async function runSimCommand(opts: SimCommandOptions): Promise<void> {
  const speed = opts.speed === undefined ? 1 : Number(opts.speed);
  if (!Number.isFinite(speed) || speed < 0) throw new RangeError(`--speed: expected a non-negative number, got "${String(opts.speed)}"`);
  const sim = await startSimulator({
    scenario: opts.scenario,
    listen: opts.listen ?? '127.0.0.1:4566',
    speed,
    startAt: opts.start,
    autoLaunch: opts.autoLaunch,
    logger: opts.logger,
  });
  const out = opts.out ?? process.stdout;
  out.write(
    [
      `AWS simulator (EC2 + Glue + STS) listening on ${sim.url}`,
      `  scenario ${opts.scenario}, virtual time ${new Date(sim.clock.now()).toISOString()}, speed ${speed}x`,
      '  point an AWS SDK or CLI at it with:',
      `    export AWS_ENDPOINT_URL=${sim.url}`,
      `    export AWS_REGION=${sim.world.scenario.region} AWS_DEFAULT_REGION=${sim.world.scenario.region}`,
      '    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
      ...(sim.world.scenario.accounts.length > 0
        ? [`  worlds (account/region, by the access key's account and the signing region): ${[...sim.worlds.keys()].join(' ')}`]
        : []),
      `  state: ${sim.url}/_sim/state   faults: POST ${sim.url}/_sim/faults`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      opts.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener('abort', stop);
  });
  await sim.close();
}
