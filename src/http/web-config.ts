// The web configuration file Prometheus exporters share (prometheus/exporter-toolkit's `--web.config.file`): TLS
// and basic auth for every endpoint. Same field names and meaning; unknown fields are errors; relative paths are
// relative to the file. Fields of the toolkit this exporter does not implement are refused by name, never ignored.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions, type SecureVersion } from 'node:tls';
import bcrypt from 'bcryptjs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatIssues, plainErrors } from '../config/errors.js';

/** A web config is a few lines; the cap bounds a reload that happens on a new connection. */
const MAX_WEB_CONFIG_BYTES = 64 * 1024;

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const satisfies Record<string, SecureVersion>;
const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const unsupported = (instead: string) =>
  z
    .unknown()
    .refine(() => false, { error: `not supported by glue-eni-exporter; ${instead}` })
    .optional();
const path = z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });
const tlsVersion = z.enum(Object.keys(TLS_VERSIONS) as [keyof typeof TLS_VERSIONS], {
  error: `expected one of ${Object.keys(TLS_VERSIONS).join(', ')}`,
});
/** bcrypt as htpasswd -B and Go's bcrypt write it: `$2y$10$` + 53 characters of salt and hash. */
const bcryptHash = z
  .string({ error: 'expected a bcrypt hash ($2y$10$...)' })
  .regex(/^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/, { error: 'expected a bcrypt hash ($2y$10$...)' });

const webConfigSchema = z
  .object({
    tls_server_config: z
      .object({
        cert_file: path.optional(),
        key_file: path.optional(),
        client_auth_type: z.enum(CLIENT_AUTH_TYPES, { error: `expected one of ${CLIENT_AUTH_TYPES.join(', ')}` }).default('NoClientCert'),
        client_ca_file: path.optional(),
        min_version: tlsVersion.default('TLS12'),
        max_version: tlsVersion.default('TLS13'),
        cert: unsupported('use cert_file'),
        key: unsupported('use key_file'),
        client_ca: unsupported('use client_ca_file'),
        client_allowed_sans: unsupported('remove it'),
        cipher_suites: unsupported("Node.js's default cipher suites apply"),
        curve_preferences: unsupported("Node.js's default curves apply"),
        prefer_server_cipher_suites: unsupported('remove it'),
      })
      .strict()
      .optional(),
    http_server_config: unsupported('remove it'),
    rate_limit: unsupported('/admit has its own (admission.rateLimit)'),
    basic_auth_users: z
      .record(z.string().regex(/^[^:]+$/, { error: 'expected a user name without ":"' }), bcryptHash, {
        error: 'expected a mapping of user name to bcrypt hash',
      })
      .optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const tls = cfg.tls_server_config;
    if (!tls) return;
    const at = (field: string) => ['tls_server_config', field];
    if (!tls.cert_file) ctx.addIssue({ code: 'custom', path: at('cert_file'), message: 'required with tls_server_config' });
    if (!tls.key_file) ctx.addIssue({ code: 'custom', path: at('key_file'), message: 'required with tls_server_config' });
    const verifies = tls.client_auth_type === 'VerifyClientCertIfGiven' || tls.client_auth_type === 'RequireAndVerifyClientCert';
    if (verifies && !tls.client_ca_file) {
      ctx.addIssue({ code: 'custom', path: at('client_ca_file'), message: `required with client_auth_type ${tls.client_auth_type}` });
    }
    if (tls.client_ca_file && !verifies) {
      ctx.addIssue({
        code: 'custom',
        path: at('client_auth_type'),
        message: 'expected VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file (a CA that verifies nothing is a mistake)',
      });
    }
    if (Number(tls.min_version.slice(3)) > Number(tls.max_version.slice(3))) {
      ctx.addIssue({ code: 'custom', path: at('max_version'), message: `expected ${tls.min_version} (min_version) or later` });
    }
  });

export interface WebTls {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
  clientAuthType: ClientAuthType;
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
}

export interface WebConfig {
  /** The file it was read from (absolute). */
  file: string;
  tls?: WebTls;
  /** User name → bcrypt hash; undefined when basic auth is off. */
  users?: ReadonlyMap<string, string>;
}

/** Read and validate a web config file; paths in it are resolved against its directory, and each file must be readable. */
export function loadWebConfig(file: string): WebConfig {
  const abs = resolve(file);
  let text: string;
  try {
    const size = statSync(abs).size;
    if (size > MAX_WEB_CONFIG_BYTES) throw new Error(`${size} bytes is over the ${MAX_WEB_CONFIG_BYTES / 1024} KiB limit for a web config file`);
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => `${file}: YAML syntax: ${e.message.split('\n')[0]}`);
    throw new ConfigError(issues.join('\n'), issues);
  }
  const parsed = webConfigSchema.safeParse(doc.toJS() ?? {}, { error: plainErrors });
  if (!parsed.success) {
    const issues = formatIssues(parsed.error, file, webConfigSchema);
    throw new ConfigError(issues.join('\n'), issues);
  }
  const cfg = parsed.data;
  const dir = dirname(abs);
  const issues: string[] = [];
  const readable = (field: string, p: string | undefined): string | undefined => {
    if (p === undefined) return undefined;
    const full = resolve(dir, p);
    try {
      readFileSync(full);
    } catch (err) {
      issues.push(`${file}: ${field}: cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return full;
  };
  const t = cfg.tls_server_config;
  const tls: WebTls | undefined = t && {
    certFile: readable('tls_server_config.cert_file', t.cert_file) as string,
    keyFile: readable('tls_server_config.key_file', t.key_file) as string,
    clientCaFile: readable('tls_server_config.client_ca_file', t.client_ca_file),
    clientAuthType: t.client_auth_type,
    minVersion: TLS_VERSIONS[t.min_version],
    maxVersion: TLS_VERSIONS[t.max_version],
  };
  if (tls && issues.length === 0) {
    try {
      secureContextOptions(tls);
    } catch (err) {
      issues.push(`${file}: tls_server_config: ${(err as Error).message}`);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues.join('\n'), issues);
  const users = cfg.basic_auth_users && Object.keys(cfg.basic_auth_users).length > 0 ? new Map(Object.entries(cfg.basic_auth_users)) : undefined;
  return { file: abs, tls, users };
}

/** Node's TLS server options for the files as they are on disk now; throws when they do not fit together. */
export function secureContextOptions(tls: WebTls): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const opts = {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    ca: tls.clientCaFile ? readFileSync(tls.clientCaFile) : undefined,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    requestCert: tls.clientAuthType !== 'NoClientCert',
    // Node can verify a presented certificate or refuse the handshake; "require any" and "verify if given" are
    // decided per connection (clientCertAllowed).
    rejectUnauthorized: tls.clientAuthType === 'RequireAndVerifyClientCert',
  };
  // Throws on a key that does not match the certificate, or PEM that is not one: refused before it is served.
  createSecureContext(opts);
  return opts;
}

/**
 * Whether a TLS connection's client certificate satisfies client_auth_type, beyond what Node's handshake decided:
 * RequireAnyClientCert needs a certificate (any), VerifyClientCertIfGiven a verified one when one is given.
 */
export function clientCertAllowed(
  type: ClientAuthType,
  socket: { authorized: boolean; getPeerCertificate(): { raw?: Buffer } | Record<string, never> },
): boolean {
  const given = Boolean((socket.getPeerCertificate() as { raw?: Buffer }).raw);
  if (type === 'RequireAnyClientCert') return given;
  if (type === 'VerifyClientCertIfGiven') return !given || socket.authorized;
  return true;
}

/** A hash no password matches, compared for an unknown user so that the answer takes as long as for a known one. */
const DUMMY_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
/** Successful checks remembered: bcrypt costs tens of ms in pure JS, not to be paid on every scrape. */
const CACHE_LIMIT = 1024;

/**
 * Basic auth against bcrypt hashes. bcrypt compares in constant time; a success is cached under a SHA-256 of user,
 * hash and password (no password kept in memory), so a changed hash or password is a miss. Concurrent checks of
 * the same credentials share one bcrypt run.
 */
export class BasicAuth {
  private readonly ok = new Set<string>();
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(private users: ReadonlyMap<string, string>) {}

  /** Swap the users (a reloaded web config); successes cached under old hashes can never match again. */
  setUsers(users: ReadonlyMap<string, string>): void {
    this.users = users;
    this.ok.clear();
  }

  /** True when the `Authorization` header carries a user and password that match. */
  async check(header: string | undefined): Promise<boolean> {
    const m = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const hash = this.users.get(user);
    const key = createHash('sha256')
      .update(`${user}\0${hash ?? ''}\0${password}`)
      .digest('base64');
    if (hash !== undefined && this.ok.has(key)) return true;
    let run = this.pending.get(key);
    if (!run) {
      run = bcrypt.compare(password, hash ?? DUMMY_HASH).then(
        (match) => match && hash !== undefined,
        () => false,
      );
      this.pending.set(key, run);
      void run.finally(() => this.pending.delete(key));
    }
    const match = await run;
    if (match) {
      if (this.ok.size >= CACHE_LIMIT) this.ok.clear();
      this.ok.add(key);
    }
    return match;
  }
}
