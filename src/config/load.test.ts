import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closest, ConfigError, editDistance } from './errors.js';
import { loadConfigFile, MAX_CONFIG_BYTES, parseConfig, parseConfigText } from './load.js';

const dir = join(import.meta.dirname, 'testdata');
const load = (name: string, env: NodeJS.ProcessEnv = {}) => loadConfigFile(join(dir, name), env);

/**
 * One bad file per error, each with the exact message it must produce: `<file>: <field.path>: <message>` (a YAML
 * syntax error names the line and column in place of the field). A file with several problems lists the first here.
 */
const badFiles: Record<string, string> = {
  'bad-subnet-id.yml': 'subnets[1].id: expected "subnet-" followed by hex',
  'duplicate-subnet-id.yml': 'subnets[1].id: duplicate of subnets[0].id',
  'duplicate-subnet-name.yml': 'subnets[1].name: duplicate of subnets[0].name',
  'subnet-name-like-id.yml': 'subnets[1].name: expected a name that does not look like a subnet id ("subnet-" followed by hex)',
  'subnet-name-like-id-uppercase.yml': 'subnets[1].name: expected a name that does not look like a subnet id ("subnet-" followed by hex)',
  'no-subnets.yml': 'subnets: expected at least one subnet, or discover.glueConnections: true',
  'bad-schedule.yml': 'sample.schedule: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading second), got 2',
  'schedule-minute-out-of-range.yml': 'sample.schedule: minute field "61" is out of range; expected 0-59',
  'schedule-weekday-out-of-range.yml': 'sample.schedule: day of week field "8" is out of range; expected 0-7 or sun-sat',
  'schedule-not-a-field.yml':
    'sample.schedule: day of week field "mo-fr" is not a cron field; expected values 0-7 or sun-sat, as *, a value, a range a-b, a step */n or a list a,b',
  'schedule-not-a-string.yml': 'sample.schedule: expected a cron expression in quotes, like "* * * * *"',
  'negative-max-age.yml': 'sample.maxAgeSeconds: expected a positive number of seconds',
  'max-age-shorter-than-interval.yml':
    'sample.maxAgeSeconds: 120 s is shorter than one sample interval (300 s, the longest gap between runs of sample.schedule "*/5 * * * *"); every sample would be stale before the next',
  'discover-not-boolean.yml': 'discover.glueConnections: expected true or false',
  'discover-not-a-mapping.yml': 'discover: expected a mapping of fields, got boolean true',
  'unknown-top-level-field.yml': 'subnetz: unknown field; did you mean subnets?',
  'unknown-field-typo.yml': 'discover.glueConnection: unknown field; did you mean glueConnections?',
  'unknown-field-far.yml': 'store.bucket: unknown field; expected one of type, table, retentionDays',
  'unknown-override-subnet.yml':
    'admission.subnets.criticl: no watched subnet has this id or name; did you mean critical? (known: subnet-0a1, subnet-0b2, critical, batch)',
  'unknown-override-subnet-id.yml': 'admission.subnets.subnet-0a2: no watched subnet has this id or name (known: subnet-0a1)',
  'unknown-policy.yml': 'admission.policy: expected one of forecast, rolling-max, static, none, tail-aware',
  'fractional-lookback.yml': 'admission.subnets.critical.lookback: expected an integer from 1 to 100',
  'zero-bypass-memory.yml': 'admission.bypassMemoryDays: expected an integer from 1 to 90',
  'bad-endpoint.yml': 'endpoints.ec2: expected an http(s) URL',
  'bad-endpoint-scheme.yml': 'endpoints.glue: expected an http(s) URL',
  'bad-link-url.yml': 'links.grafanaUrl: expected an http(s) URL',
  'endpoint-not-a-string.yml': 'endpoints.dynamodb: expected an http(s) URL',
  'unknown-store.yml': 'store.type: expected file or dynamodb',
  'empty-owner-prefixes.yml': 'glue.ownerDescriptionPrefixes: expected at least one description prefix',
  'empty-owner-prefix.yml': 'glue.ownerDescriptionPrefixes[1]: expected a non-empty string',
  'bad-lookback-hours.yml': 'glue.runLookbackHours: expected hours from 1 to 720',
  'bad-subnet-name.yml': 'subnets[0].name: expected 1-64 letters, digits, "_", ".", ":" or "-"',
  'bad-log-level.yml': 'log.level: expected one of fatal, error, warn, info, debug, trace',
  'data-dir-not-a-string.yml': 'dataDir: expected a directory path',
  'region-not-a-string.yml': 'region: expected an AWS region like us-east-1',
  'invalid-yaml.yml': 'line 3, column 1: YAML syntax: All mapping items must start at the same column',
  'duplicate-key.yml': 'subnets: duplicate key at line 3, column 1 (first at line 1)',
  'short-token.yml': 'admission.token: expected at least 16 characters',
  'targets-with-subnets.yml': 'subnets: expected no top-level subnets with targets; list them under their target (targets[].subnets)',
  'targets-with-discover.yml': 'discover.glueConnections: expected false with targets; set it per target (targets[].discover)',
  'targets-with-account.yml': 'account: expected no top-level account with targets; each target names its account',
  'targets-empty.yml': 'targets: expected at least one target',
  'target-account-not-quoted.yml': 'targets[0].account: expected a 12-digit AWS account id in quotes, like "111111111111"',
  'target-no-regions.yml': 'targets[0].regions: expected at least one region',
  'target-bad-region.yml': 'targets[0].regions[0]: expected an AWS region like us-east-1',
  'target-duplicate-region.yml': 'targets[1].regions[0]: duplicate of targets[0].regions[0] (target 111111111111/eu-west-1 listed twice)',
  'target-subnet-region-required.yml':
    'targets[0].subnets[0].region: required when the target has several regions; expected one of eu-west-1, us-east-1',
  'target-subnet-region-unknown.yml': "targets[0].subnets[0].region: expected one of the target's regions: eu-west-1",
  'target-duplicate-subnet-id.yml': 'targets[1].subnets[0].id: duplicate of targets[0].subnets[0].id',
  'target-duplicate-subnet-name.yml': 'targets[1].subnets[0].name: duplicate of targets[0].subnets[0].name',
  'target-external-id-without-role.yml': 'targets[0].externalId: expected only with roleArn (an external id is sent with AssumeRole)',
  'target-role-of-other-account.yml':
    "targets[0].roleArn: expected a role of account 111111111111 (the target's account), got one of account 222222222222",
  'target-bad-role-arn.yml': 'targets[0].roleArn: expected an IAM role ARN like arn:aws:iam::111111111111:role/glue-eni-exporter',
  'target-no-subnets.yml': 'targets[1].subnets: expected at least one subnet, or discover.glueConnections: true',
  'target-unknown-field.yml': 'targets[0].roleArm: unknown field; did you mean roleArn?',
  'bad-sample-concurrency.yml': 'sample.concurrency: expected an integer from 1 to 64',
  'bad-endpoint-sts.yml': 'endpoints.sts: expected an http(s) URL',
  'bad-account.yml': 'account: expected a 12-digit AWS account id in quotes, like "111111111111"',
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
      expect((error as ConfigError).issues[0]).toBe(`${join(dir, file)}: ${message}`);
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
    expect(cfg.links).toEqual({
      runbookUrl: 'https://github.com/glue-eni-exporter/glue-eni-exporter/blob/main/docs/runbook.md',
      grafanaUrl: 'https://grafana.example.com/d/glue-eni',
    });
    expect(load('good-minimal.yml').links).toEqual({});
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
        'sample.schedule: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading second), got 1',
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

  it('finds duplicate keys at any depth and names the field and both lines', () => {
    const text =
      'subnets: [{id: subnet-0a1}]\nadmission:\n  subnets:\n    critical: {lookback: 2}\n    batch: {lookback: 3}\n    critical: {lookback: 4}\n';
    expect(() => parseConfigText(text, 'dup.yml', {})).toThrow(
      'dup.yml: admission.subnets.critical: duplicate key at line 6, column 5 (first at line 4)',
    );
  });
});

describe('override keys', () => {
  const text = (discover: boolean, subnets: string) =>
    `subnets: [${subnets}]\ndiscover: {glueConnections: ${discover}}\nadmission:\n  subnets:\n    criticl: {minBuffer: 20}\n`;

  it('leaves a key that may name a discovered subnet to the check after discovery', () => {
    expect(parseConfigText(text(true, '{id: subnet-0a1, name: critical}'), 'c.yml', {}).admission.subnets.criticl).toEqual({ minBuffer: 20 });
  });

  it('leaves a name to the check after sampling when a configured subnet learns its name from Glue', () => {
    expect(Object.keys(parseConfigText(text(false, '{id: subnet-0a1}'), 'c.yml', {}).admission.subnets)).toEqual(['criticl']);
  });

  it('accepts keys that are a configured id or name', () => {
    const cfg = parseConfigText(
      'subnets: [{id: subnet-0a1, name: critical}]\nadmission: {subnets: {critical: {lookback: 2}, subnet-0a1: {minBuffer: 3}}}\n',
      'c.yml',
      {},
    );
    expect(Object.keys(cfg.admission.subnets).sort()).toEqual(['critical', 'subnet-0a1']);
  });
});

describe('suggestions', () => {
  it('suggests the nearest field only when it is a slip, case ignored', () => {
    expect(closest('glueConnection', ['glueConnections'])).toBe('glueConnections');
    expect(closest('maxageseconds', ['schedule', 'maxAgeSeconds'])).toBe('maxAgeSeconds');
    expect(closest('shedule', ['schedule', 'maxAgeSeconds'])).toBe('schedule');
    expect(closest('bucket', ['type', 'table', 'retentionDays'])).toBeUndefined();
    expect(editDistance('tabel', 'table')).toBe(1);
  });

  it('names each unknown key on its own line', () => {
    try {
      parseConfig({ subnets: [{ id: 'subnet-0a1' }], log: { levle: 'info', format: 'json' } }, {}, 'c.yml');
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        'c.yml: log.levle: unknown field; did you mean level?',
        'c.yml: log.format: unknown field; expected one of level',
      ]);
    }
  });
});

describe('targets', () => {
  it('loads several accounts and regions with their roles, concurrency and the STS endpoint', () => {
    const cfg = load('good-targets.yml');
    expect(cfg.sample.concurrency).toBe(2);
    expect(cfg.endpoints.sts).toBe('http://127.0.0.1:4566');
    expect(cfg.subnets).toEqual([]);
    expect(cfg.targets).toEqual([
      {
        account: '111111111111',
        roleArn: 'arn:aws:iam::111111111111:role/glue-eni-exporter',
        externalId: 'shared-secret-1',
        regions: ['eu-west-1', 'us-east-1'],
        subnets: [
          { id: 'subnet-0a1', name: 'critical', region: 'eu-west-1' },
          { id: 'subnet-0b2', name: 'batch', region: 'us-east-1' },
        ],
        discover: { glueConnections: false },
      },
      { account: '222222222222', regions: ['eu-west-1'], subnets: [{ id: 'subnet-0c3' }], discover: { glueConnections: true } },
    ]);
  });

  it('samples 4 targets at once by default, and leaves the single-account form without targets', () => {
    const cfg = load('good-minimal.yml');
    expect(cfg.sample.concurrency).toBe(4);
    expect(cfg.targets).toBeUndefined();
    expect(cfg.account).toBeUndefined();
  });
});
