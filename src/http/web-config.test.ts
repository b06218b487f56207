import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCa, makeLeaf } from '../../test/helpers/tls.js';
import { ConfigError } from '../config/errors.js';
import { BasicAuth, loadWebConfig, type WebConfig } from './web-config.js';

const dir = mkdtempSync(join(tmpdir(), 'web-config-unit-'));
const HASH = bcrypt.hashSync('pw', 4);
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

beforeAll(() => {
  const ca = makeCa(dir);
  makeLeaf(dir, ca, 'server', { cn: 'unit' });
  makeLeaf(dir, ca, 'other', { cn: 'other' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` as a web config and returns what loading it says: the config, or the error's lines. */
function load(name: string, text: string): ReturnType<typeof loadWebConfig> | string[] {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    return loadWebConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((l) => l.replace(`${file}: `, ''));
  }
}

describe('web config file', () => {
  it('loads TLS and users, paths relative to the file, TLS 1.2 at least by default', () => {
    const web = load('ok.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: "${HASH}"\n`);
    expect(web).toMatchObject({
      tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), clientAuthType: 'NoClientCert', minVersion: 'TLSv1.2' },
    });
    expect((web as WebConfig).users?.get('alice')).toBe(HASH);
  });

  it('is off without TLS and without users', () => {
    expect(load('empty.yml', '')).toMatchObject({ tls: undefined, users: undefined });
  });

  const bad: [string, string, string[]][] = [
    [
      'unknown field, with the nearest',
      'tls_server_config:\n  cert_file: server.crt\n  keyfile: server.key\n',
      ['tls_server_config.keyfile: unknown field; did you mean key_file?', 'tls_server_config.key_file: required with tls_server_config'],
    ],
    ['unknown top-level field', 'basic_auth_user: {}\n', ['basic_auth_user: unknown field; did you mean basic_auth_users?']],
    [
      'a field of the toolkit not implemented here',
      'tls_server_config: {cert_file: server.crt, key_file: server.key, cipher_suites: [TLS_AES_128_GCM_SHA256]}\n',
      ["tls_server_config.cipher_suites: not supported by glue-eni-exporter; Node.js's default cipher suites apply"],
    ],
    ['a password in clear', 'basic_auth_users:\n  alice: hunter2\n', ['basic_auth_users.alice: expected a bcrypt hash ($2y$10$...)']],
    [
      'a missing certificate file',
      'tls_server_config: {cert_file: nope.crt, key_file: server.key}\n',
      [`tls_server_config.cert_file: cannot read ${join(dir, 'nope.crt')}: ENOENT`],
    ],
    ['a key of another certificate', 'tls_server_config: {cert_file: server.crt, key_file: other.key}\n', ['tls_server_config: key values mismatch']],
    [
      'an unknown TLS version',
      'tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS14}\n',
      ['tls_server_config.min_version: expected one of TLS10, TLS11, TLS12, TLS13'],
    ],
    [
      'a client CA that verifies nothing',
      'tls_server_config: {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}\n',
      [
        'tls_server_config.client_auth_type: expected VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file (a CA that verifies nothing is a mistake)',
      ],
    ],
    [
      'verification without a CA',
      'tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerifyClientCert}\n',
      ['tls_server_config.client_ca_file: required with client_auth_type RequireAndVerifyClientCert'],
    ],
    ['users not a mapping', 'basic_auth_users: [alice]\n', ['basic_auth_users: expected a mapping of user name to bcrypt hash']],
  ];
  for (const [what, text, issues] of bad) {
    it(`names the field: ${what}`, () => {
      const out = load('bad.yml', text);
      expect(Array.isArray(out) ? out.map((l) => l.replace(/^(tls_server_config: ).*(key values mismatch).*$/, '$1$2')) : out).toEqual(issues);
    });
  }
});

describe('basic auth', () => {
  it('pays bcrypt once per good credential, every time for a bad one, and once for concurrent checks', async () => {
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const auth = new BasicAuth(new Map([['alice', HASH]]));
      expect(await Promise.all([1, 2, 3].map(() => auth.check(basic('alice:pw'))))).toEqual([true, true, true]);
      expect(compare).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 5; i++) expect(await auth.check(basic('alice:pw'))).toBe(true);
      expect(compare).toHaveBeenCalledTimes(1);
      expect(await auth.check(basic('alice:nope'))).toBe(false);
      expect(await auth.check(basic('alice:nope'))).toBe(false);
      expect(compare).toHaveBeenCalledTimes(3);
      // An unknown user costs a bcrypt run too (against a hash no password matches): no timing tells users apart.
      expect(await auth.check(basic('mallory:pw'))).toBe(false);
      expect(compare).toHaveBeenCalledTimes(4);
      // New users: a success cached under the old hash never counts again.
      auth.setUsers(new Map([['alice', bcrypt.hashSync('other', 4)]]));
      expect(await auth.check(basic('alice:pw'))).toBe(false);
    } finally {
      compare.mockRestore();
    }
  });

  it('refuses what is not basic auth', async () => {
    const auth = new BasicAuth(new Map([['alice', HASH]]));
    for (const h of [undefined, '', 'Bearer abc', 'Basic', `Basic ${Buffer.from('alicepw').toString('base64')}`])
      expect(await auth.check(h)).toBe(false);
  });
});
