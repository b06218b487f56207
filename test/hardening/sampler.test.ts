// Attacks on the sampler from the AWS side, through real SDK clients against a real local server; the exporter's
// own cron schedule runs the samples.
// - A server that drips a response one byte at a time never trips the SDK's socket idle timeout: before the
//   sample deadline, it held a sample for as long as it dripped, with no error and glue_eni_sample_success at 1.
// - A NextToken that changes on every page was followed for 10,000 pages, with no error counted until then.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEADLINE_API, sampleDeadlineMs } from '../../src/sampler/sampler.js';
import { startExporter, type RunningExporter } from '../../src/server.js';
import { answerGlueAndSubnets, localAwsConfig, startAwsServer, sendXml, type AwsServer } from '../helpers/aws-server.js';
import { captureLogger } from '../helpers/log-capture.js';
import { XMLNS, enisPageXml, type EniFixture } from '../helpers/aws-wire.js';
import { parseExposition, select, value } from '../helpers/prom.js';
import { useSimCredentials, waitFor } from './helpers.js';

const A = 'subnet-0aaa';
const enis: EniFixture[] = [
  { id: 'eni-1', subnetId: A, status: 'in-use', ips: ['10.0.1.10'] },
  { id: 'eni-2', subnetId: A, status: 'available', ips: ['10.0.1.11', '10.0.1.12'] },
];
/** One byte every DRIP_MS for DRIP_BYTES: 30 s, far past the deadline, well under the SDK's 30 s idle timeout per byte. */
const DRIP_MS = 200;
const DRIP_BYTES = 150;

let mode: 'ok' | 'drip' | 'runaway' = 'ok';
const drips = { started: 0, abortedEarly: 0, finished: 0 };
let aws: AwsServer;
let exporter: RunningExporter;
const { logger, lines: logLines } = captureLogger();
const dataDir = mkdtempSync(join(tmpdir(), 'deadline-'));

const scrape = async () => parseExposition(await (await fetch(`${exporter.url}/metrics`)).text()).samples;

beforeAll(async () => {
  useSimCredentials();
  aws = await startAwsServer((call, res) => {
    if (answerGlueAndSubnets(call, res, [{ id: A, cidr: '10.0.1.0/26', az: 'us-east-1a', available: 56 }])) return;
    const page = enisPageXml(enis);
    if (mode === 'ok') return sendXml(res, page);
    if (mode === 'runaway') {
      // A fresh token every page, carrying how many pages this sequence has had so far.
      const pageNo = Number(/-p(\d+)$/.exec(call.form?.get('NextToken') ?? '')?.[1] ?? 0) + 1;
      return sendXml(res, enisPageXml(enis, `fresh-${Math.random().toString(36).slice(2)}-p${pageNo}`));
    }
    // Valid XML all along: the root opens, whitespace drips, then the page ends it. Only time is wrong.
    drips.started++;
    const root = `<DescribeNetworkInterfacesResponse xmlns="${XMLNS}">`;
    const [head, tail] = [page.slice(0, page.indexOf(root) + root.length), page.slice(page.indexOf(root) + root.length)];
    res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
    res.write(head);
    let sent = 0;
    const timer = setInterval(() => {
      if (++sent < DRIP_BYTES) return void res.write(' ');
      clearInterval(timer);
      drips.finished++;
      res.end(tail);
    }, DRIP_MS);
    res.on('close', () => {
      if (sent < DRIP_BYTES) drips.abortedEarly++;
      clearInterval(timer);
    });
  });
  const config = localAwsConfig(aws, {
    subnets: [{ id: A, name: 'critical' }],
    dataDir,
    // Every 2 s: the deadline is its floor, 5 s.
    sample: { schedule: '*/2 * * * * *' },
  });
  exporter = await startExporter({
    config,
    listen: '127.0.0.1:0',
    logger,
    readerOptions: { retryStrategy: new ConfiguredRetryStrategy(2, 0) },
  });
  expect(await exporter.firstSample).toBe(true);
});

afterAll(async () => {
  await exporter?.close();
  await aws?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pagination bound', () => {
  it('fails a sample whose NextToken never ends at the pages a /26 can fill, and counts the error', async () => {
    const errorsBefore = select(await scrape(), 'glue_eni_sample_errors_total', { api: 'DescribeNetworkInterfaces' })[0]?.value ?? 0;
    const good = exporter.cache.current();
    const pagesOf = () =>
      aws.calls
        .filter((c) => c.api === 'DescribeNetworkInterfaces')
        .map((c) => Number(/-p(\d+)$/.exec(c.form?.get('NextToken') ?? '')?.[1] ?? 0) + 1);
    const seen = pagesOf().length;
    mode = 'runaway';
    let failure: ReturnType<typeof exporter.cache.lastFailure>;
    try {
      // Joins a scheduled sample already in flight, or starts one; either may be the runaway.
      await waitFor('a runaway sample to fail', async () => ((await exporter.sampler.sampleOnce()) ? undefined : true), 15_000);
      failure = exporter.cache.lastFailure();
      expect(exporter.cache.current()).toBe(good);
    } finally {
      mode = 'ok';
    }
    expect(failure?.api).toBe('DescribeNetworkInterfaces');
    expect(failure?.message).toMatch(/PaginationLimit: still a NextToken after 11 pages, the most expected \(1 subnet\(s\) of 64 addresses/);
    // No sequence went past its 11th page (10,000 before the bound).
    const pages = pagesOf().slice(seen);
    expect(Math.max(...pages)).toBe(11);
    expect(value(await scrape(), 'glue_eni_sample_errors_total', { api: 'DescribeNetworkInterfaces' })).toBeGreaterThan(errorsBefore);
  });
});

describe('sample deadline', () => {
  it('is shorter than both the interval and the staleness limit, within 5 s and 30 min', () => {
    expect(sampleDeadlineMs({ intervalSeconds: 60, maxAgeSeconds: 180 })).toBe(54_000);
    expect(sampleDeadlineMs({ intervalSeconds: 60, maxAgeSeconds: 30 })).toBe(27_000);
    expect(sampleDeadlineMs({ intervalSeconds: 300, maxAgeSeconds: 900 })).toBe(270_000);
    // Schedules of seconds (simulator, tests) and tiny max ages: a slow sample skips a tick instead of failing.
    expect(sampleDeadlineMs({ intervalSeconds: 2, maxAgeSeconds: 6 })).toBe(5_000);
    expect(sampleDeadlineMs({ intervalSeconds: 1, maxAgeSeconds: 0.001 })).toBe(5_000);
    // A yearly schedule: capped at 30 min (a timer past 2^31 ms would fire at once).
    expect(sampleDeadlineMs({ intervalSeconds: 365 * 86_400, maxAgeSeconds: 3 * 365 * 86_400 })).toBe(1_800_000);
  });

  it('abandons a dripping sample at its deadline, aborts the request, counts it, keeps the last good snapshot; the next sample runs', async () => {
    const good = exporter.cache.current();
    expect(good?.subnets[0]?.used).toBe(3);
    const goodAt = exporter.sampler.status.lastGoodAt as number;
    const deadlineFailures = () => logLines.filter((l) => l.api === DEADLINE_API);

    mode = 'drip';
    // Without a deadline the sample waits out the whole 30 s drip and then succeeds.
    const failure = await waitFor('a sample abandoned at its deadline', () => deadlineFailures()[0], 20_000);
    expect(failure.msg).toBe('sample failed; keeping the last good snapshot');
    expect(failure.in_flight).toBe('DescribeNetworkInterfaces');
    expect(String(failure.err)).toMatch(/abandoned at its 5 s deadline during DescribeNetworkInterfaces/);
    // Held for the deadline plus the abort, not for the drip (generous bound: the machine may be loaded).
    expect(exporter.sampler.status.lastDurationSeconds).toBeLessThan((DRIP_MS * DRIP_BYTES) / 2000);
    // The SDK request was aborted mid-body, not left to drip on.
    await waitFor('the dripping request to be closed by the client', () => (drips.abortedEarly > 0 ? true : undefined), 5_000);
    expect(drips.finished).toBe(0);

    const samples = await scrape();
    expect(value(samples, 'glue_eni_sample_success')).toBe(0);
    expect(value(samples, 'glue_eni_sample_errors_total', { api: DEADLINE_API })).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'glue_eni_subnet_used_ips', { subnet_id: A })).toBe(3);
    expect(exporter.cache.current()).toBe(good);
    expect(exporter.cache.lastFailure()?.api).toBe(DEADLINE_API);

    mode = 'ok';
    await waitFor(
      'the next scheduled sample to succeed',
      () => {
        const st = exporter.sampler.status;
        return st.lastSuccess && (st.lastGoodAt as number) > goodAt ? true : undefined;
      },
      15_000,
    );
    const after = await scrape();
    expect(value(after, 'glue_eni_sample_success')).toBe(1);
    expect(exporter.cache.current()).not.toBe(good);
    expect(drips.finished).toBe(0);
  });
});
