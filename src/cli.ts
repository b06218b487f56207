#!/usr/bin/env node
// Entry point. Each subcommand is a thin shell over a module that is tested on its own.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from './config/errors.js';
import { describeAdmission, loadConfigFile } from './config/load.js';
import { describeTargets, resolveTargets } from './config/targets.js';
import { loadWebConfig } from './http/web-config.js';
import { createLogger, type Logger } from './log.js';
import { EXIT_ERROR, runAdmit, type AdmitOptions } from './admit-client.js';
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

// exporter-toolkit's flag, so that the same file and the same command line work for every exporter.
const WEB_CONFIG_FLAG = '--web.config.file <file>';
const WEB_CONFIG_HELP = 'TLS and basic auth for every endpoint, in the web configuration format of Prometheus exporters (see README)';
type WebConfigOption = { 'web.config.file'?: string };
const webConfigOf = (opts: WebConfigOption) => (opts['web.config.file'] ? loadWebConfig(opts['web.config.file']) : undefined);

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
  .option(WEB_CONFIG_FLAG, WEB_CONFIG_HELP)
  .addHelpText(
    'after',
    '\nAWS region, credentials and endpoints come from the standard AWS environment (AWS_REGION, AWS_PROFILE,\n' +
      'AWS_ENDPOINT_URL_EC2, ...) unless the config sets them. GLUE_ENI_ADMIT_TOKEN sets the /admit bearer token.\n' +
      'SIGHUP reloads the config; SIGTERM finishes the sample in flight and exits 0.',
  )
  .action(async (opts: { config: string; listen: string } & WebConfigOption) => {
    try {
      const config = loadConfigFile(opts.config);
      const web = webConfigOf(opts);
      const logger = createLogger(config.log.level);
      const exporter = await startExporter({ config, listen: opts.listen, logger, web });
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
  .option(WEB_CONFIG_FLAG, `${WEB_CONFIG_HELP}; validated too`)
  .action((file: string, opts: WebConfigOption) => {
    try {
      const config = loadConfigFile(file);
      const web = webConfigOf(opts);
      if (web)
        process.stdout.write(`${web.file}: OK (tls ${web.tls ? 'on' : 'off'}, basic auth ${web.users ? `${web.users.size} user(s)` : 'off'})\n`);
      const targets = describeTargets(config);
      const subnets = resolveTargets(config).reduce((n, t) => n + t.subnets.length, 0);
      process.stdout.write(
        `${file}: OK (${subnets} subnet(s), schedule "${config.sample.schedule}", ` +
          `interval ${config.sample.intervalSeconds} s (longest gap between runs), max age ${config.sample.maxAgeSeconds} s, store ${config.store.type}, ` +
          `${describeAdmission(config)})\n`,
      );
      // The targets only when there are several: the single-account form prints what it always printed.
      if (config.targets) {
        process.stdout.write(
          `targets (${targets.length}, ${config.sample.concurrency} sampled at once):\n${targets.map((t) => `  ${t}\n`).join('')}`,
        );
      }
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
  .description('ask /admit until admitted: exit 0 admitted, 1 not admitted in time (or the deadline cannot be met), 2 error')
  .requiredOption('-u, --url <url>', 'the exporter, e.g. http://127.0.0.1:9858')
  .option('--subnet <id|name>', 'subnet id or configured name')
  .option('--workers <n>', 'workers the job will start', positiveInt('--workers'))
  .option('--job <name>', 'Glue job name: stands for subnet and workers')
  .option('--account <id>', "the subnet's AWS account (12 digits): picks the target of a job that runs in several")
  .option('--region <region>', "the subnet's AWS region: picks the target of a job that runs in several")
  .option('--dag-run-id <id>', "recorded with each observation; the key of the wait's place in the queue")
  .option('--client-id <id>', 'the key of the place in the queue when there is no --dag-run-id (default: one per invocation)')
  .option('--deadline <iso>', 'the launch must start by this time (ISO 8601 with a zone); sent as deadline')
  .option('--max-wait <s>', 'the launch must start within this many seconds; sent as max_wait_seconds', positiveInt('--max-wait'))
  .option(
    '--poke-interval <s>',
    'seconds between pokes when the exporter names none (it says retry_after_seconds)',
    positiveNumber('--poke-interval'),
    60,
  )
  .option('--timeout <s>', 'give up after this many seconds (default 600, or until the deadline when one is given)', positiveNumber('--timeout'))
  // A bad option (`--workers 0`) is bad input: exit 2, never 1, which tells a scheduler "gave up at the timeout".
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_ERROR))
  .addHelpText(
    'after',
    '\nBetween pokes it sleeps as the answer says (retry_after_seconds), within its timeout and deadline, and\n' +
      'prints the ETA and queue position of each wait to stderr. Connection errors, 5xx and 429 are retried until\n' +
      'the timeout. It exits 1 at once when the exporter answers will_miss_deadline. GLUE_ENI_ADMIT_TOKEN, when\n' +
      'set, is sent as the bearer token.',
  )
  .action(
    async (
      opts: Pick<AdmitOptions, 'url' | 'subnet' | 'workers' | 'job' | 'account' | 'region' | 'dagRunId' | 'clientId' | 'deadline'> & {
        maxWait?: number;
        pokeInterval: number;
        timeout?: number;
      },
    ) => {
      if (!opts.job && !(opts.subnet && opts.workers)) {
        process.stderr.write('error: give --subnet and --workers, or --job\n');
        process.exit(2);
      }
      const { maxWait, pokeInterval, timeout, ...rest } = opts;
      process.exitCode = await runAdmit({
        ...rest,
        maxWaitSeconds: maxWait,
        pokeIntervalSeconds: pokeInterval,
        timeoutSeconds: timeout,
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
