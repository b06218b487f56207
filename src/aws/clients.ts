// The only place AWS SDK clients are built. Region, endpoints and credentials are passed only when the
// configuration names them, so that the SDK's own resolution (AWS_REGION, AWS_ENDPOINT_URL[_EC2|_GLUE|_DYNAMODB],
// profiles, the credentials chain) stays in charge otherwise.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EC2Client, EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { GlueClient, GlueClientConfig } from '@aws-sdk/client-glue';
import { dynamoDbSdk, ec2Sdk, glueSdk } from './sdk.js';

/** A retry strategy accepted by both clients (the SDK's standard one unless a test swaps it). */
export type AwsRetryStrategy = NonNullable<EC2ClientConfig['retryStrategy']> & NonNullable<GlueClientConfig['retryStrategy']>;

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;

export interface AwsHooks {
  /** Called once per HTTP request sent, retries included, with the operation name (e.g. `GetJobRuns`). */
  onRequest?: (api: string) => void;
  /** Called once when an operation finally fails, after the SDK gave up retrying. */
  onError?: (api: string, err: unknown) => void;
}

/** What a client signs with: static keys or a provider (assume-role); absent, the SDK's default chain. */
export type AwsCredentials = NonNullable<EC2ClientConfig['credentials']> & NonNullable<GlueClientConfig['credentials']>;

export interface AwsClientOptions extends AwsHooks {
  region?: string;
  credentials?: AwsCredentials;
  endpoints?: { ec2?: string; glue?: string };
  /** Attempts per operation, first one included (SDK standard retry mode). */
  maxAttempts?: number;
  /** Replaces the SDK's standard retry strategy; tests pass one with no backoff. */
  retryStrategy?: AwsRetryStrategy;
  /** Socket idle limit per request: a hung page must fail (and be retried), never stall the sampler. */
  requestTimeoutMs?: number;
}

export interface AwsClients {
  ec2: EC2Client;
  glue: GlueClient;
}

const REQUEST_COUNTER = 'glueEniRequestCounter';
const ERROR_REPORTER = 'glueEniErrorReporter';

/** `DescribeNetworkInterfacesCommand` → `DescribeNetworkInterfaces`. */
export function apiName(commandName: string | undefined): string {
  if (!commandName) return 'unknown';
  return commandName.endsWith('Command') ? commandName.slice(0, -'Command'.length) : commandName;
}

function baseConfig(opts: AwsClientOptions, endpoint: string | undefined): EC2ClientConfig & GlueClientConfig {
  const cfg: EC2ClientConfig & GlueClientConfig = {
    maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestHandler: {
      requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      // Without it the SDK only warns on a timed-out socket and the call never settles.
      throwOnRequestTimeout: true,
      connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS,
    },
  };
  // Keys are set only when known: an explicit `undefined` would shadow the SDK's environment lookup.
  if (opts.region !== undefined) cfg.region = opts.region;
  if (endpoint !== undefined) cfg.endpoint = endpoint;
  if (opts.retryStrategy !== undefined) cfg.retryStrategy = opts.retryStrategy;
  if (opts.credentials !== undefined) cfg.credentials = opts.credentials;
  return cfg;
}

type Instrumentable = Pick<EC2Client, 'middlewareStack'> | Pick<GlueClient, 'middlewareStack'>;
type Stack = EC2Client['middlewareStack'];

/**
 * Adds request counting and final-error reporting to a client. Safe to call again: the middlewares are
 * named and replaced, never stacked twice.
 */
export function instrumentClient(client: Instrumentable, hooks: AwsHooks): void {
  instrumentStack((client as Pick<EC2Client, 'middlewareStack'>).middlewareStack, hooks);
}

/** The same hooks as a client plugin, for a client the SDK builds itself (the assume-role STS client). */
export function instrumentPlugin(hooks: AwsHooks): { applyToStack: (stack: Stack) => void } {
  return { applyToStack: (stack) => instrumentStack(stack, hooks) };
}

function instrumentStack(stack: Stack, hooks: AwsHooks): void {
  const { onRequest, onError } = hooks;
  if (onRequest) {
    // finalizeRequest at low priority sits inside the retry middleware (high priority of the same step),
    // so it runs once per attempt, i.e. once per HTTP request.
    stack.add(
      (next, context) => async (args) => {
        onRequest(apiName(context.commandName));
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: REQUEST_COUNTER, override: true },
    );
  }
  if (onError) {
    // initialize at high priority is the outermost layer: it sees only the error left after all retries.
    stack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          onError(apiName(context.commandName), err);
          throw err;
        }
      },
      { step: 'initialize', priority: 'high', name: ERROR_REPORTER, override: true },
    );
  }
}

export function createAwsClients(opts: AwsClientOptions = {}): AwsClients {
  const ec2 = new (ec2Sdk().EC2Client)(baseConfig(opts, opts.endpoints?.ec2));
  const glue = new (glueSdk().GlueClient)(baseConfig(opts, opts.endpoints?.glue));
  instrumentClient(ec2, opts);
  instrumentClient(glue, opts);
  return { ec2, glue };
}

/**
 * Short timeouts: /admit waits on the first failing call before it switches to the journal, so an unreachable
 * DynamoDB must fail in about a second or two, never hang (the SDK's defaults have no request timeout).
 */
export const DYNAMODB_TIMEOUTS = { connectionTimeout: 1000, requestTimeout: 2000, maxAttempts: 2 } as const;

/** The admission store's DynamoDB client (the SDK is loaded here, on first use: a file store never needs it). */
export function createDynamoClient(opts: { region?: string | undefined; endpoint?: string | undefined } = {}): DynamoDBClient {
  return new (dynamoDbSdk().DynamoDBClient)({
    maxAttempts: DYNAMODB_TIMEOUTS.maxAttempts,
    requestHandler: {
      connectionTimeout: DYNAMODB_TIMEOUTS.connectionTimeout,
      requestTimeout: DYNAMODB_TIMEOUTS.requestTimeout,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
    },
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
}
