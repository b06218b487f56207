// `demo`: the simulator and the exporter wired to it in one process, over the real wire protocols. The
// exporter's clock is the simulator's virtual clock, so ages and durations read in scenario time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from './config/load.js';
import type { Logger } from './log.js';
import { startExporter, type RunningExporter } from './server.js';
import { loadScenarioFile, startSimulator, type RunningSimulator, type Scenario } from './sim/index.js';

export const DEFAULT_SCENARIO = fileURLToPath(new URL('../scenarios/seed-shared.yml', import.meta.url));

export interface DemoOptions {
  scenario?: string;
  listen?: string;
  simListen?: string;
  /** Virtual seconds per real second. */
  speed?: number;
  /** Virtual start time (ISO); default: the scenario's demoStart, else its start. */
  start?: string;
  /** Real-time cron for the exporter's samples (default every 2 s). */
  schedule?: string;
  dataDir?: string;
  logger: Logger;
}

export interface RunningDemo {
  sim: RunningSimulator;
  exporter: RunningExporter;
  scenario: Scenario;
  close(): Promise<void>;
}

/** The exporter config a scenario implies: every scenario subnet watched under its scenario name. */
export function demoConfig(scenario: Scenario, simUrl: string, dataDir: string, schedule: string): Config {
  return parseConfig(
    {
      region: scenario.region,
      endpoints: { ec2: simUrl, glue: simUrl },
      subnets: scenario.subnets.map((s) => ({ id: s.id, ...(s.name ? { name: s.name } : {}) })),
      sample: { schedule },
      dataDir,
    },
    process.env,
  );
}

/** A port already taken: say which flag picks another, since a second demo (or a stale one) is the usual cause. */
function portTaken(err: unknown, what: string, listen: string, flag: string, example: string): Error {
  if ((err as NodeJS.ErrnoException)?.code !== 'EADDRINUSE') return err as Error;
  return new Error(`${what} address ${listen} is already in use (EADDRINUSE): pick another with ${flag}, e.g. npm run demo -- ${flag} ${example}`);
}

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const scenario = loadScenarioFile(opts.scenario ?? DEFAULT_SCENARIO);
  // The simulator accepts any signature; these keep real credentials out of the demo's requests.
  process.env.AWS_ACCESS_KEY_ID = 'demo';
  process.env.AWS_SECRET_ACCESS_KEY = 'demo';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const simListen = opts.simListen ?? '127.0.0.1:0';
  const listen = opts.listen ?? '127.0.0.1:9858';
  const sim = await startSimulator({
    scenario,
    listen: simListen,
    speed: opts.speed ?? 30,
    startAt: opts.start ?? scenario.demoStart ?? scenario.start,
    logger: opts.logger.child({ component: 'sim' }),
  }).catch((err: unknown) => {
    throw portTaken(err, "the simulator's", simListen, '--sim-listen', '127.0.0.1:4567 (0 picks a free port)');
  });
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'glue-eni-demo-'));
  try {
    const config = demoConfig(scenario, sim.url, dataDir, opts.schedule ?? '*/2 * * * * *');
    const exporter = await startExporter({ config, listen, logger: opts.logger, clock: sim.clock }).catch((err: unknown) => {
      throw portTaken(err, "the exporter's", listen, '--listen', '127.0.0.1:9868 (the simulator has --sim-listen)');
    });
    return {
      sim,
      exporter,
      scenario,
      async close() {
        await exporter.close();
        await sim.close();
        if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await sim.close();
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * What any AWS CLI needs to reach the simulator: v1 reads AWS_DEFAULT_REGION and v2 also AWS_REGION; both read
 * AWS_ENDPOINT_URL (v1 since 1.29); dummy credentials, since the simulator accepts any signature.
 */
export function simCliEnv(url: string, region: string): string {
  return `AWS_ENDPOINT_URL=${url} AWS_DEFAULT_REGION=${region} AWS_REGION=${region} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`;
}

/** What `demo` prints: where to look. */
export function demoBanner(demo: RunningDemo, scenarioPath: string): string {
  const u = demo.exporter.url;
  return [
    `glue-eni-exporter demo: scenario ${scenarioPath}`,
    `  virtual time ${new Date(demo.sim.clock.now()).toISOString()} at ${demo.sim.clock.speed}x`,
    `  landing page   ${u}/`,
    `  metrics        ${u}/metrics`,
    `  subnets (JSON) ${u}/api/subnets`,
    `  admit          ${u}/admit?subnet=${demo.scenario.subnets[0]?.name ?? demo.scenario.subnets[0]?.id}&workers=10&dag_run_id=demo`,
    `  AWS simulator  ${demo.sim.url}`,
    `  AWS CLI (v1 or v2): ${simCliEnv(demo.sim.url, demo.scenario.region)} aws ec2 describe-network-interfaces`,
    'Ctrl-C stops.',
    '',
  ].join('\n');
}
