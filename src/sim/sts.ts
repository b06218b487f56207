// STS over the Query protocol (form-encoded Action=AssumeRole&Version=2011-06-15, XML answers): the roles of a
// scenario's accounts, and the temporary credentials it issues. Issued keys name their account, which is how the
// server routes a request signed with them; they expire in real time, as the SDK judges them by Date.now().
import { randomBytes } from 'node:crypto';
import { Rng } from './rng.js';
import type { Scenario, ScenarioRole } from './scenario.js';
import { QueryError, type WireResponse, xml } from './wire.js';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_VERSION = '2011-06-15';
/** AWS's words for a request signed with temporary credentials past their Expiration. */
export const EXPIRED_TOKEN_MESSAGE = 'The security token included in the request is expired';

export class StsError extends QueryError {
  constructor(
    code: string,
    message: string,
    status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(code, message, status);
  }
}

export function stsErrorResponse(err: StsError, requestId: string): WireResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: xml({ ErrorResponse: { '@_xmlns': STS_NAMESPACE, Error: { Type: err.type, Code: err.code, Message: err.message }, RequestId: requestId } }),
  };
}

function ok(action: string, requestId: string, result: Record<string, unknown>): WireResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: xml({
      [`${action}Response`]: { '@_xmlns': STS_NAMESPACE, [`${action}Result`]: result, ResponseMetadata: { RequestId: requestId } },
    }),
  };
}

/** The access key and region of a SigV4-signed request (Authorization header, or a presigned query). */
export function signingScope(authorization: string | undefined, query: URLSearchParams): { accessKeyId?: string; region?: string; service?: string } {
  const credential = /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  if (!credential) return {};
  const [accessKeyId, , region, service] = credential.split('/');
  return { accessKeyId, region, service };
}

export interface IssuedCredentials {
  accessKeyId: string;
  account: string;
  roleName: string;
  sessionName: string;
  /** Real epoch ms after which the key is refused. */
  expiresAt: number;
}

/** Keys past their expiry are kept this long (to answer them with the expired-token error), then forgotten. */
const FORGET_AFTER_MS = 60 * 60_000;

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

const valueError = (value: string | null, field: string, constraint: string) =>
  new StsError(
    'ValidationError',
    `1 validation error detected: Value ${value === null ? 'null' : `'${value}'`} at '${field}' failed to satisfy constraint: Member ${constraint}`,
  );

/** The scenario's roles, AssumeRole and GetCallerIdentity, and the credentials issued so far. */
export class StsService {
  private readonly issued = new Map<string, IssuedCredentials>();
  private readonly roles = new Map<string, ScenarioRole>();
  private assumeRoleCalls = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly realNow: () => number = Date.now,
  ) {
    for (const a of scenario.accounts) for (const r of a.roles) this.roles.set(`${a.id}/${r.name}`, r);
  }

  /** AssumeRole requests answered with credentials. */
  get assumeRoleCount(): number {
    return this.assumeRoleCalls;
  }

  /** What an access key stands for: issued (maybe expired), or any other key (the scenario's own account). */
  lookup(accessKeyId: string | undefined): { account: string; expired: boolean; issued?: IssuedCredentials } {
    const issued = accessKeyId === undefined ? undefined : this.issued.get(accessKeyId);
    if (!issued) return { account: this.scenario.account, expired: false };
    return { account: issued.account, expired: this.realNow() >= issued.expiresAt, issued };
  }

  handle(action: string, params: URLSearchParams, accessKeyId: string | undefined, requestId: string): WireResponse {
    const caller = this.lookup(accessKeyId);
    if (caller.expired) throw new StsError('ExpiredToken', EXPIRED_TOKEN_MESSAGE, 403);
    const callerArn = caller.issued
      ? `arn:aws:sts::${caller.account}:assumed-role/${caller.issued.roleName}/${caller.issued.sessionName}`
      : `arn:aws:iam::${caller.account}:user/sim`;
    switch (action) {
      case 'AssumeRole':
        return ok(action, requestId, this.assumeRole(params, callerArn));
      case 'GetCallerIdentity':
        return ok(action, requestId, {
          Arn: callerArn,
          UserId: caller.issued
            ? `${roleId(this.scenario.seed, caller.account, caller.issued.roleName)}:${caller.issued.sessionName}`
            : 'AIDASIMULATORUSER0001',
          Account: caller.account,
        });
      default:
        throw new StsError('InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? STS_VERSION}`);
    }
  }

  private assumeRole(params: URLSearchParams, callerArn: string): Record<string, unknown> {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    if (roleArn === null) throw valueError(null, 'roleArn', 'must not be null');
    if (sessionName === null) throw valueError(null, 'roleSessionName', 'must not be null');
    if (roleArn.length < 20) throw valueError(roleArn, 'roleArn', 'must have length greater than or equal to 20');
    if (sessionName.length < 2) throw valueError(sessionName, 'roleSessionName', 'must have length greater than or equal to 2');
    if (sessionName.length > 64) throw valueError(sessionName, 'roleSessionName', 'must have length less than or equal to 64');
    if (!/^[\w+=,.@-]*$/.test(sessionName)) throw valueError(sessionName, 'roleSessionName', 'must satisfy regular expression pattern: [\\w+=,.@-]*');
    const rawDuration = params.get('DurationSeconds');
    const duration = rawDuration === null ? 3600 : Number(rawDuration);
    if (!Number.isInteger(duration)) throw valueError(rawDuration, 'durationSeconds', 'must be a valid integer');
    if (duration < 900) throw valueError(rawDuration, 'durationSeconds', 'must have value greater than or equal to 900');
    if (duration > 43200) throw valueError(rawDuration, 'durationSeconds', 'must have value less than or equal to 43200');

    // A role that does not exist, whose trust policy does not let the caller in, or whose ExternalId condition is
    // not met: AWS answers all three alike, so as not to tell an outsider which roles exist.
    const m = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/.exec(roleArn);
    const role = m ? this.roles.get(`${m[1]}/${m[2]}`) : undefined;
    const externalId = params.get('ExternalId');
    if (!m || !role || role.deny || (role.externalId !== undefined && externalId !== role.externalId)) {
      throw new StsError('AccessDenied', `User: ${callerArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    }
    if (duration > role.maxSessionSeconds)
      throw new StsError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');

    const account = m[1];
    const lifetime = Math.min(duration, this.scenario.sts.maxCredentialSeconds ?? duration);
    const now = this.realNow();
    // Whole seconds, as Expiration is written, so that the SDK and this service agree on the instant; rounded
    // down, never to outlive what was asked.
    const expiresAt = Math.floor((now + lifetime * 1000) / 1000) * 1000;
    const accessKeyId = `ASIA${base32(randomBytes(10))}`;
    this.forgetOld(now);
    this.issued.set(accessKeyId, { accessKeyId, account, roleName: role.name, sessionName, expiresAt });
    this.assumeRoleCalls++;
    return {
      AssumedRoleUser: {
        Arn: `arn:aws:sts::${account}:assumed-role/${role.name}/${sessionName}`,
        AssumedRoleId: `${roleId(this.scenario.seed, account, role.name)}:${sessionName}`,
      },
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: randomBytes(30).toString('base64'),
        SessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(96).toString('base64')}`,
        Expiration: iso(expiresAt),
      },
    };
  }

  private forgetOld(now: number): void {
    for (const [key, c] of this.issued) if (now - c.expiresAt > FORGET_AFTER_MS) this.issued.delete(key);
  }
}

/** The stable unique id of a role (AROA...), as IAM gives each role when it is created. */
function roleId(seed: number, account: string, role: string): string {
  return `AROA${new Rng(seed, `role:${account}:${role}`).hex(17).toUpperCase()}`;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 16 characters from 10 bytes: access key ids are upper-case letters and digits. */
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
