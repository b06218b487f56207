#!/usr/bin/env node
// Entry point. Each subcommand is a thin shell over a module that is tested on its own.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import { createLogger, type Logger } from './log.js';
import { startExporter, type RunningExporter } from './server.js';
import { VERSION } from './version.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

/** Stop cleanly on SIGTERM/SIGINT: finish the sample in flight, close the server, exit 0. */
export function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
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
      const exporter = await startExporter({ config, listen: opts.listen, logger, extensions: await admissionExtension() });
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
        `${file}: OK (${config.subnets.length} subnet(s), schedule "${config.sample.schedule}", max age ${config.sample.maxAgeSeconds} s, store ${config.store.type})\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

export { positiveNumber };

/** Admission routes, loaded lazily so the read-only exporter starts without them if they fail to load. */
async function admissionExtension() {
  const mod = await import('./admission/extension.js').catch(() => undefined);
  return mod?.admissionExtension;
}

/** SIGHUP: re-read and re-validate; a bad file is rejected and the running config kept. */
function watchReload(file: string, exporter: RunningExporter, logger: Logger): void {
  process.on('SIGHUP', () => {
    try {
      const next = loadConfigFile(file);
      exporter.reload(next);
      logger.info({ file }, 'config reloaded');
    } catch (err) {
      logger.error({ file, err: (err as Error).message }, 'config reload rejected; keeping the running config');
    }
  });
}

await program.parseAsync(process.argv);
