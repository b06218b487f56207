// Credentials per target. A target with a role assumes it through the SDK's own provider (fromTemporaryCredentials:
// STS AssumeRole, from the default chain's credentials); one without uses the default chain itself.
import { instrumentPlugin, type AwsCredentials, type AwsHooks } from './clients.js';
import { credentialProvidersSdk } from './sdk.js';

/** The session name every assumed role shows in CloudTrail. */
export const ROLE_SESSION_NAME = 'glue-eni-exporter';

/**
 * Refresh this long before expiry, as the SDK's clients do (their identity cache treats credentials within five
 * minutes of expiry as expired): the shared cache below and the clients' own agree on when to call STS again.
 */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

export interface AssumeRoleOptions extends AwsHooks {
  roleArn: string;
  externalId?: string;
  /** The STS client's region: the target's (regional STS endpoint). */
  region?: string;
  /** `endpoints.sts`. */
  endpoint?: string;
  now?: () => number;
}

export type CredentialProvider = () => Promise<Awaited<ReturnType<Extract<AwsCredentials, (...args: never[]) => unknown>>>>;

/**
 * The target's assumed-role credentials: fromTemporaryCredentials, shared by the target's EC2 and Glue clients
 * (one AssumeRole per lifetime, not one per client) and called again when they come within
 * REFRESH_BEFORE_EXPIRY_MS of expiry. A failure is not kept: the next call asks STS again.
 */
export function assumeRoleCredentials(opts: AssumeRoleOptions): CredentialProvider {
  const clientConfig: { region?: string; endpoint?: string } = {};
  if (opts.region !== undefined) clientConfig.region = opts.region;
  if (opts.endpoint !== undefined) clientConfig.endpoint = opts.endpoint;
  const params: { RoleArn: string; RoleSessionName: string; ExternalId?: string } = { RoleArn: opts.roleArn, RoleSessionName: ROLE_SESSION_NAME };
  if (opts.externalId !== undefined) params.ExternalId = opts.externalId;
  const provider = credentialProvidersSdk().fromTemporaryCredentials({
    params,
    clientConfig,
    clientPlugins: [instrumentPlugin({ onRequest: opts.onRequest, onError: opts.onError })],
  });
  return sharedCredentials(provider, opts.now ?? Date.now);
}

/** One pending or current identity for every caller; asked again near its expiry, or after a failure. */
export function sharedCredentials<C extends { expiration?: Date }>(provider: () => Promise<C>, now: () => number): () => Promise<C> {
  let current: Promise<C> | undefined;
  let expiresAt = Number.POSITIVE_INFINITY;
  return () => {
    if (current && expiresAt - now() > REFRESH_BEFORE_EXPIRY_MS) return current;
    if (current && expiresAt === Number.NEGATIVE_INFINITY) return current; // still pending
    expiresAt = Number.NEGATIVE_INFINITY;
    const pending = provider().then(
      (c) => {
        expiresAt = c.expiration ? c.expiration.getTime() : Number.POSITIVE_INFINITY;
        return c;
      },
      (err: unknown) => {
        if (current === pending) current = undefined;
        throw err;
      },
    );
    current = pending;
    return pending;
  };
}
