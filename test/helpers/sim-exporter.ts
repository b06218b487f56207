// One exporter in this process sampling the simulator through the real SDK clients, on the simulator's virtual
// clock (speed 0: time moves only when the test advances it), with its first sample taken.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/log.js';
import { startExporter, type ExporterOptions, type RunningExporter } from '../../src/server.js';
import { startSimulator, type RunningSimulator, type Scenario } from '../../src/sim/index.js';
import { useSimCredentials } from './sim-env.js';

export interface SimExporter {
  sim: RunningSimulator;
  exporter: RunningExporter;
  /** A temp dir for the test's files; the exporter's dataDir is `<dir>/data`. */
  dir: string;
  close(): Promise<void>;
}

/**
 * `config` is merged over region, endpoints and dataDir; the schedule never fires by itself (`0 0 1 1 *`), so
 * samples happen when the test calls sampleOnce, and data stays fresh for an hour of virtual time.
 */
export async function startSimExporter(o: {
  scenario: Scenario;
  config: Record<string, unknown>;
  logger: Logger;
  dir?: string;
  options?: Partial<ExporterOptions>;
  /** What the first sample must report: false when a target is meant to fail (default true). */
  firstSample?: boolean;
}): Promise<SimExporter> {
  useSimCredentials();
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'sim-exporter-'));
  const sim = await startSimulator({ scenario: o.scenario, speed: 0 });
  const config = parseConfig(
    {
      region: o.scenario.region,
      endpoints: { ec2: sim.url, glue: sim.url, sts: sim.url },
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 3600 },
      dataDir: join(dir, 'data'),
      ...o.config,
    },
    {},
  );
  const exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: o.logger, clock: sim.clock, ...o.options });
  expect(await exporter.firstSample).toBe(o.firstSample ?? true);
  return {
    sim,
    exporter,
    dir,
    async close() {
      await exporter.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
