// State files are read back from disk, so they are input like any other. Before each record was checked,
// `lifecycle.json` with `"enis": null` loaded and then every sample failed (never ready), and a string where a
// time belongs made NaN ages in /metrics. Each case: bad lifecycle.json and bypass.json in the data dir, then
// the whole exporter (real SDK clients against a real local AWS server) must become ready, serve metrics with
// no NaN, answer /admit, and name each bad record in its log.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter } from '../../src/server.js';
import { answerGlueAndSubnets, localAwsConfig, startAwsServer, sendXml, type AwsServer } from '../helpers/aws-server.js';
import { enisPageXml } from '../helpers/aws-wire.js';
import { captureLogger } from '../helpers/log-capture.js';
import { parseExposition, select, value } from '../helpers/prom.js';
import { useSimCredentials } from './helpers.js';

const A = 'subnet-0aaa';
const GLUE_DESC = 'Attached to Glue using role: arn:aws:iam::111122223333:role/glue-etl';
const T = Date.now() - 3_600_000;
const goodEni = { subnetId: A, status: 'available', seenBeforeAvailable: true, availableSince: T, lastSeen: T };
const goodBypass = { watchedMs: 8 * 86_400_000, events: [{ at: T, addresses: 2 }], totalAddresses: 2, lastSampleAt: T };

interface Case {
  name: string;
  lifecycle: unknown;
  bypass: unknown;
  /** Fragments the lifecycle and bypass log lines must hold: the bad record and field. */
  lifecycleNames: string[];
  bypassNames: string[];
}

const cases: Case[] = [
  {
    name: 'null where records belong',
    lifecycle: { version: 1, enis: null, failureTotals: null },
    bypass: { version: 1, subnets: { [A]: null } },
    lifecycleNames: ['enis: expected an object of records, got null', 'failureTotals: expected an object of records, got null'],
    bypassNames: [`subnets.${A}: Invalid input: expected object, received null`],
  },
  {
    name: 'wrong types',
    lifecycle: {
      version: 1,
      enis: { 'eni-1': { ...goodEni, seenBeforeAvailable: 'yes' }, 'eni-2': { ...goodEni, status: 7 } },
      failureTotals: { [`${A}|reporting`]: '7' },
    },
    bypass: { version: 1, subnets: { [A]: { ...goodBypass, events: {} } } },
    lifecycleNames: ['enis.eni-1 (seenBeforeAvailable)', 'enis.eni-2 (status)', `failureTotals.${A}|reporting: Invalid input: expected number`],
    bypassNames: [`subnets.${A} (events): Invalid input: expected array`],
  },
  {
    name: 'strings that make NaN',
    lifecycle: {
      version: 1,
      enis: { 'eni-1': { ...goodEni, availableSince: 'yesterday' }, 'eni-2': { ...goodEni, status: 'in-use', lingeringSince: 'NaN' } },
      countedFailures: { jr_1: 'then' },
    },
    bypass: { version: 1, subnets: { [A]: { ...goodBypass, watchedMs: 'a lot', totalAddresses: 'NaN' } } },
    lifecycleNames: ['enis.eni-1 (availableSince): expected a time in epoch ms', 'enis.eni-2 (lingeringSince)', 'countedFailures.jr_1'],
    bypassNames: [`subnets.${A} (watchedMs)`],
  },
  {
    name: 'negative times',
    lifecycle: {
      version: 1,
      lastSampleAt: -5,
      enis: { 'eni-1': { ...goodEni, availableSince: -86_400_000 }, 'eni-2': { ...goodEni, lastSeen: -1 } },
    },
    bypass: { version: 1, subnets: { [A]: { ...goodBypass, lastSampleAt: -1 } } },
    lifecycleNames: ['enis.eni-1 (availableSince): expected a time in epoch ms, not negative', 'enis.eni-2 (lastSeen)', 'lastSampleAt'],
    bypassNames: [`subnets.${A} (lastSampleAt): expected a time in epoch ms, not negative`],
  },
  {
    name: 'huge arrays',
    lifecycle: { version: 1, enis: Array.from({ length: 200_000 }, (_, i) => i), countedFailures: Array.from({ length: 200_000 }, () => T) },
    // A yearly schedule allows 2 events in 90 days; a forged history holds 100,000.
    bypass: { version: 1, subnets: { [A]: { ...goodBypass, events: Array.from({ length: 100_000 }, (_, i) => ({ at: T + i, addresses: 1 })) } } },
    lifecycleNames: ['enis: expected an object of records, got an array', 'countedFailures: expected an object of records, got an array'],
    bypassNames: [`subnets.${A} (events): expected at most 2 events`],
  },
];

let aws: AwsServer;
const dirs: string[] = [];

beforeAll(async () => {
  useSimCredentials();
  aws = await startAwsServer((call, res) => {
    if (answerGlueAndSubnets(call, res, [{ id: A, cidr: '10.0.1.0/26', az: 'us-east-1a', available: 57 }])) return;
    return sendXml(
      res,
      enisPageXml([
        { id: 'eni-1', subnetId: A, status: 'available', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.10'] },
        { id: 'eni-2', subnetId: A, status: 'in-use', description: GLUE_DESC, requesterManaged: true, ips: ['10.0.1.11'] },
      ]),
    );
  });
});

afterAll(async () => {
  await aws?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('state files read back from disk', () => {
  it.each(cases)('$name: set aside record by record, named in the log; the exporter gets ready with no NaN', async (c) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'state-files-'));
    dirs.push(dataDir);
    writeFileSync(join(dataDir, 'lifecycle.json'), JSON.stringify(c.lifecycle));
    writeFileSync(join(dataDir, 'bypass.json'), JSON.stringify(c.bypass));
    const { logger, lines } = captureLogger();
    const config = localAwsConfig(aws, {
      subnets: [{ id: A, name: 'critical' }],
      dataDir,
      // No scheduled sample during the test; the first one runs at start.
      sample: { schedule: '0 0 1 1 *' },
      admission: { policy: 'forecast' },
    });
    const exporter = await startExporter({
      config,
      listen: '127.0.0.1:0',
      logger,
      readerOptions: { retryStrategy: new ConfiguredRetryStrategy(1, 0) },
    });
    try {
      expect(await exporter.firstSample).toBe(true);
      expect((await fetch(`${exporter.url}/-/ready`)).status).toBe(200);

      const samples = parseExposition(await (await fetch(`${exporter.url}/metrics`)).text()).samples;
      expect(samples.filter((s) => Number.isNaN(s.value)).map((s) => s.name)).toEqual([]);
      expect(value(samples, 'glue_eni_sample_success')).toBe(1);
      expect(value(samples, 'glue_eni_state_records_rejected_total', { file: 'lifecycle.json' })).toBeGreaterThan(0);
      expect(value(samples, 'glue_eni_state_records_rejected_total', { file: 'bypass.json' })).toBeGreaterThan(0);
      // The bad records never reached a metric: no exhaustion failure series from a forged total, and the
      // available ENI's age is its own, from this sample.
      expect(select(samples, 'glue_eni_exhaustion_failures_total')).toEqual([]);
      expect(value(samples, 'glue_eni_oldest_available_age_seconds', { subnet_id: A })).toBeLessThan(60);

      const warned = (what: string) => String(lines.find((l) => l.level === 40 && String(l.msg).startsWith(what))?.msg ?? '');
      const lifecycleNote = warned('lifecycle state: set aside');
      const bypassNote = warned('gate-bypass memory: set aside');
      for (const n of c.lifecycleNames) expect(lifecycleNote).toContain(n);
      for (const n of c.bypassNames) expect(bypassNote).toContain(n);
      expect(readdirSync(dataDir).filter((f) => f.includes('.corrupt-'))).toHaveLength(2);

      const admit = await fetch(`${exporter.url}/admit?subnet=critical&workers=2&dag_run_id=state-files`);
      expect(admit.status).toBe(200);
      const body = (await admit.json()) as Record<string, unknown>;
      expect(JSON.stringify(body)).not.toMatch(/NaN|null,"buffer"/);
      expect(typeof body.admit).toBe('boolean');
    } finally {
      await exporter.close();
    }
  });
});
