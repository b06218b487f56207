#!/usr/bin/env node
// Entry point. Each subcommand is a thin shell over a module that is tested on its own.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import { createLogger, type Logger } from './log.js';
import { runAdmit } from './admit-client.js';
import { runSimulateCommand } from './backtest/command.js';
import { backtestPolicies, sensorKinds } from './backtest/run.js';
import { DEFAULT_SCENARIO, demoBanner, startDemo } from './demo.js';
import { startExporter, type RunningExporter } from './server.js';
import { runSimCommand } from './sim/index.js';
import { initStore } from './store/index.js';
import { VERSION } from './version.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

/** Past this, a stop that has not finished (a sample stuck beyond its AWS timeouts) ends the process anyway. */
export const SHUTDOWN_BACKSTOP_MS = 25_000;

/**
 * Stop cleanly on SIGTERM/SIGINT: finish the sample in flight, close the server (requests still in progress get
 * the shutdown deadline, then their connections are cut), exit 0. A second signal, or a stop still unfinished
 * after SHUTDOWN_BACKSTOP_MS, exits 1 at once: acknowledged admissions are already durable.
 */
export function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without finishing the stop');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ seconds: SHUTDOWN_BACKSTOP_MS / 1000 }, 'stop did not finish in time: exiting');
      process.exit(1);
    }, SHUTDOWN_BACKSTOP_MS).unref();
    close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
}

const program = new Command()
  .name('glue-eni-exporter')
  .description(
    'Prometheus exporter and admission gate for the IP addresses that AWS Glue ENIs hold in VPC subnets.\n' +
      'Samples EC2 and Glue on a schedule into one cache; serves /metrics, /api, and /admit from it.',
  )
  .version(VERSION)
  .showHelpAfterError();

program
  .command('serve')
  .description('sample the configured subnets from AWS and serve /metrics, /api, /admit')
  .requiredOption('-c, --config <file>', 'YAML config file (see README, "Configuration")')
  .option('-l, --listen <host:port>', 'address to listen on', '0.0.0.0:9858')
  .addHelpText(
    'after',
    '\nAWS region, credentials and endpoints come from the standard AWS environment (AWS_REGION, AWS_PROFILE,\n' +
      'AWS_ENDPOINT_URL_EC2, ...) unless the config sets them. GLUE_ENI_ADMIT_TOKEN sets the /admit bearer token.\n' +
      'SIGHUP reloads the config; SIGTERM finishes the sample in flight and exits 0.',
  )
  .action(async (opts: { config: string; listen: string }) => {
    try {
      const config = loadConfigFile(opts.config);
      const logger = createLogger(config.log.level);
      const exporter = await startExporter({ config, listen: opts.listen, logger });
      onShutdown(logger, () => exporter.close());
      watchReload(opts.config, exporter, logger);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('check-config')
  .description('validate a config file and exit non-zero on the first problem, naming the field')
  .argument('<file>', 'YAML config file')
  .action((file: string) => {
    try {
      const config = loadConfigFile(file);
      process.stdout.write(
        `${file}: OK (${config.subnets.length} subnet(s), schedule "${config.sample.schedule}", ` +
          `interval ${config.sample.intervalSeconds} s (longest gap between runs), max age ${config.sample.maxAgeSeconds} s, store ${config.store.type})\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

program
  .command('demo')
  .description('run the AWS simulator and the exporter wired to it: no AWS account needed')
  .option('-s, --scenario <file>', 'scenario file', DEFAULT_SCENARIO)
  .option('-l, --listen <host:port>', 'exporter address', '127.0.0.1:9858')
  .option('--sim-listen <host:port>', 'simulator address (port 0 picks a free one)', '127.0.0.1:0')
  .option('--speed <n>', 'virtual seconds per real second', positiveNumber('--speed'), 30)
  .option('--start <iso>', "virtual start time (default: the scenario's demoStart, else its start)")
  .option('--schedule <cron>', 'real-time sample schedule', '*/2 * * * * *')
  .option('--log-level <level>', 'log level', 'info')
  .action(
    async (opts: { scenario: string; listen: string; simListen: string; speed: number; start?: string; schedule: string; logLevel: string }) => {
      try {
        const logger = createLogger(opts.logLevel);
        const demo = await startDemo({ ...opts, logger });
        process.stdout.write(demoBanner(demo, opts.scenario));
        onShutdown(logger, () => demo.close());
      } catch (err) {
        fail(err);
      }
    },
  );

program
  .command('sim')
  .description('serve the AWS simulator alone (EC2 Query and Glue JSON endpoints) for any SDK or CLI')
  .requiredOption('-s, --scenario <file>', 'scenario file (see scenarios/)')
  .option('-l, --listen <host:port>', 'address to listen on', '127.0.0.1:4566')
  .option('--speed <n>', 'virtual seconds per real second', positiveNumber('--speed'), 1)
  .option('--start <iso>', "virtual start time (default: the scenario's start)")
  .action(async (opts: { scenario: string; listen: string; speed: number; start?: string }) => {
    try {
      await runSimCommand({ ...opts, logger: createLogger('info') });
      process.exit(0);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('admit')
  .description('ask /admit until admitted: exit 0 admitted, 1 gave up at the timeout, 2 error')
  .requiredOption('-u, --url <url>', 'the exporter, e.g. http://127.0.0.1:9858')
  .option('--subnet <id|name>', 'subnet id or configured name')
  .option('--workers <n>', 'workers the job will start', positiveInt('--workers'))
  .option('--job <name>', 'Glue job name: stands for subnet and workers')
  .option('--dag-run-id <id>', 'recorded with each observation')
  .option('--poke-interval <s>', 'seconds between pokes', positiveNumber('--poke-interval'), 60)
  .option('--timeout <s>', 'give up after this many seconds', positiveNumber('--timeout'), 600)
  .addHelpText('after', '\nGLUE_ENI_ADMIT_TOKEN, when set, is sent as the bearer token.')
  .action(
    async (opts: { url: string; subnet?: string; workers?: number; job?: string; dagRunId?: string; pokeInterval: number; timeout: number }) => {
      if (!opts.job && !(opts.subnet && opts.workers)) {
        process.stderr.write('error: give --subnet and --workers, or --job\n');
        process.exit(2);
      }
      process.exitCode = await runAdmit({
        url: opts.url,
        subnet: opts.subnet,
        workers: opts.workers,
        job: opts.job,
        dagRunId: opts.dagRunId,
        pokeIntervalSeconds: opts.pokeInterval,
        timeoutSeconds: opts.timeout,
        token: process.env.GLUE_ENI_ADMIT_TOKEN,
      });
    },
  );

program
  .command('simulate')
  .description('backtest admission policies on a scenario, on virtual time (no HTTP, no sleeping)')
  .option('-s, --scenario <file>', 'scenario file; repeat for several', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--days <n>', 'simulated days', '30')
  .option('--policy <list>', `comma-separated policies: ${backtestPolicies.join(', ')}`, 'none,blind-retry,rolling-max,forecast,oracle')
  .option('--sensor <list>', `comma-separated sensors of the gated policies: ${sensorKinds.join(', ')}`, 'report')
  .option('--by <what>', 'also one row per subnet or per job: subnet, job')
  .option('--blind <sources>', 'launches that bypass the gate under every policy: adhoc, schedule (comma-separated)')
  .option('--json', 'print {"results": [...]} instead of a table')
  .addHelpText(
    'after',
    '\nSensors: report (the field report: pokes every 60 s, gives up after 10 minutes or at the deadline), eta (keeps its ticket, ' +
      'pokes again after each retry_after, gives up at the deadline). See docs/backtest.md.',
  )
  .action((opts: { scenario: string[]; days: string; policy: string; sensor: string; by?: string; blind?: string; json?: boolean }) => {
    process.exitCode = runSimulateCommand({
      scenarios: opts.scenario,
      days: opts.days,
      policies: opts.policy,
      sensors: opts.sensor,
      by: opts.by,
      blind: opts.blind,
      json: opts.json === true,
      out: process.stdout,
      err: process.stderr,
    });
  });

program
  .command('init-store')
  .description('prepare the admission store: create the DynamoDB table and enable TTL (or the data directory)')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .action(async (opts: { config: string }) => {
    try {
      const config = loadConfigFile(opts.config);
      await initStore(config, { logger: createLogger(config.log.level) });
    } catch (err) {
      fail(err);
    }
  });

/** SIGHUP: re-read and re-validate; a bad file is rejected and the running config kept. */
function watchReload(file: string, exporter: RunningExporter, logger: Logger): void {
  process.on('SIGHUP', () => {
    try {
      const next = loadConfigFile(file);
      exporter.reload(next);
      // The logger is not part of the exporter's config object: apply its level here.
      logger.level = next.log.level;
      logger.info({ file }, 'config reloaded');
    } catch (err) {
      logger.error({ file, err: (err as Error).message }, 'config reload rejected; keeping the running config');
    }
  });
}

await program.parseAsync(process.argv);
