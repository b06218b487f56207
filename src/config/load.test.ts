import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { loadConfigFile, MAX_CONFIG_BYTES, parseConfig, parseConfigText } from './load.js';

const dir = join(import.meta.dirname, 'testdata');
const load = (name: string, env: NodeJS.ProcessEnv = {}) => loadConfigFile(join(dir, name), env);

/** One bad file per error, each with the message it must produce (field first, then what was expected). */
const badFiles: Record<string, string> = {
  'bad-subnet-id.yml': 'subnets[1].id: expected "subnet-" followed by hex',
  'duplicate-subnet-id.yml': 'subnets[1].id: duplicate of subnets[0].id',
  'duplicate-subnet-name.yml': 'subnets[1].name: duplicate of subnets[0].name',
  'subnet-name-like-id.yml': 'subnets[1].name: expected a name that does not look like a subnet id ("subnet-" followed by hex)',
  'subnet-name-like-id-uppercase.yml': 'subnets[1].name: expected a name that does not look like a subnet id',
  'no-subnets.yml': 'subnets: expected at least one subnet, or discover.glueConnections: true',
  'bad-schedule.yml': 'sample.schedule: expected a node-cron expression (5 or 6 fields)',
  'negative-max-age.yml': 'sample.maxAgeSeconds: expected a positive number of seconds',
  'discover-not-boolean.yml': 'discover.glueConnections: expected true or false',
  'unknown-top-level-field.yml': 'subnetz: unknown field',
  'unknown-policy.yml': 'admission.policy: expected one of rolling-max, static, none, tail-aware, forecast',
  'fractional-lookback.yml': 'admission.subnets.critical.lookback: expected an integer from 1 to 100',
  'zero-bypass-memory.yml': 'admission.bypassMemoryDays: expected an integer from 1 to 90',
  'bad-endpoint.yml': 'endpoints.ec2: expected an http(s) URL',
  'unknown-store.yml': 'store.type: expected file or dynamodb',
  'empty-owner-prefixes.yml': 'glue.ownerDescriptionPrefixes: expected at least one description prefix',
  'bad-subnet-name.yml': 'subnets[0].name: expected 1-64 letters, digits, "_", ".", ":" or "-"',
  'invalid-yaml.yml': 'YAML',
  'duplicate-key.yml': 'Map keys must be unique',
  'short-token.yml': 'admission.token: expected at least 16 characters',
};

describe('config testdata', () => {
  it('has a test for every bad file', () => {
    const files = readdirSync(dir).filter((f) => !f.startsWith('good-'));
    expect(files.sort()).toEqual(Object.keys(badFiles).sort());
  });

  for (const [file, message] of Object.entries(badFiles)) {
    it(`rejects ${file}`, () => {
      let error: unknown;
      try {
        load(file);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(message);
    });
  }

  it('loads the minimal config with defaults', () => {
    const cfg = load('good-minimal.yml');
    expect(cfg.subnets).toEqual([{ id: 'subnet-0a1b2c3d', name: 'critical' }]);
    expect(cfg.sample.schedule).toBe('* * * * *');
    expect(cfg.sample.intervalSeconds).toBe(60);
    expect(cfg.sample.maxAgeSeconds).toBe(180);
    expect(cfg.glue.ownerDescriptionPrefixes).toEqual(['Attached to Glue using role', 'Glue_']);
    expect(cfg.discover.glueConnections).toBe(false);
    expect(cfg.dataDir).toBe('./data');
    expect(cfg.store.type).toBe('file');
    expect(cfg.admission.reservationTtlSeconds).toBe(300);
    // Silent file: region and endpoints stay unset so the SDK resolves them from the environment.
    expect(cfg.region).toBeUndefined();
    expect(cfg.endpoints).toEqual({});
  });

  it('loads the full config', () => {
    const cfg = load('good-full.yml');
    expect(cfg.sample.intervalSeconds).toBe(30);
    expect(cfg.sample.maxAgeSeconds).toBe(120);
    expect(cfg.admission.subnets.adhoc).toEqual({ policy: 'static', staticBuffer: 5 });
    expect(cfg.admission.subnets['subnet-0b2']).toEqual({ policy: 'forecast', bypassMemoryDays: 14 });
    expect(cfg.store.type).toBe('dynamodb');
  });

  it('takes the admit token from GLUE_ENI_ADMIT_TOKEN over the file', () => {
    const cfg = load('good-minimal.yml', { GLUE_ENI_ADMIT_TOKEN: 'x'.repeat(20) });
    expect(cfg.admission.token).toBe('x'.repeat(20));
    expect(() => load('good-minimal.yml', { GLUE_ENI_ADMIT_TOKEN: 'short' })).toThrow(/GLUE_ENI_ADMIT_TOKEN: expected at least 16/);
  });

  it('names a missing file', () => {
    expect(() => load('does-not-exist.yml')).toThrow(/does-not-exist\.yml: cannot read/);
  });

  it('lists every problem, not only the first', () => {
    try {
      parseConfig({ subnets: [{ id: 'x' }, { id: 'subnet-zz' }], sample: { schedule: 'bad' } }, {});
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        'subnets[0].id: expected "subnet-" followed by hex',
        'subnets[1].id: expected "subnet-" followed by hex',
        'sample.schedule: expected a node-cron expression (5 or 6 fields)',
      ]);
    }
  });
});

describe('config size cap', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'config-cap-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  /** A valid config padded with comment lines to exactly `bytes` bytes. */
  const padded = (bytes: number) => {
    const head = 'subnets:\n  - {id: subnet-0a1, name: critical}\n';
    const line = `# ${'x'.repeat(77)}\n`;
    const body = head + line.repeat(Math.floor((bytes - head.length) / line.length));
    return `${body + '#'.repeat(bytes - body.length - 1)}\n`;
  };

  it('is 256 KiB', () => {
    expect(MAX_CONFIG_BYTES).toBe(256 * 1024);
  });

  it('loads a file of exactly the cap', () => {
    const file = join(tmp, 'at-cap.yml');
    writeFileSync(file, padded(MAX_CONFIG_BYTES));
    expect(loadConfigFile(file, {}).subnets).toEqual([{ id: 'subnet-0a1', name: 'critical' }]);
  });

  it('refuses a file one byte over the cap before parsing, naming the file, its size and the cap', () => {
    const file = join(tmp, 'over-cap.yml');
    writeFileSync(file, padded(MAX_CONFIG_BYTES + 1));
    expect(() => loadConfigFile(file, {})).toThrow(
      new ConfigError(`${file}: 262145 bytes is over the 256 KiB (262144 bytes) limit for a config file; refused before parsing`),
    );
  });

  it('refuses text over the cap, counted in bytes', () => {
    // 100,000 three-byte characters: 300,000 bytes in 100,000 UTF-16 units.
    const text = `subnets: [{id: subnet-0a1}]\n# ${'€'.repeat(100_000)}\n`;
    expect(() => parseConfigText(text, 'inline', {})).toThrow(/^inline: 300031 bytes is over the 256 KiB \(262144 bytes\) limit/);
  });

  it('finds duplicate keys at any depth and names the line', () => {
    const text =
      'subnets: [{id: subnet-0a1}]\nadmission:\n  subnets:\n    critical: {lookback: 2}\n    batch: {lookback: 3}\n    critical: {lookback: 4}\n';
    expect(() => parseConfigText(text, 'dup.yml', {})).toThrow('dup.yml: YAML Map keys must be unique at line 6, column 5: "critical"');
  });
});
