// End to end: the exporter's demo (scenarios/demo-hot.yml, one subnet pushed above 80 %), a real Prometheus with the
// shipped rules, a real Alertmanager with the shipped routing and template, and webhook receivers in this process.
// Asserts that GlueEniSubnetUtilizationHigh is delivered with its labels and annotations, that every query of
// every dashboard panel returns data from that Prometheus (the queue panels too: sensors keep a queue in every
// subnet), and that a launch told it will miss its deadline fires GlueEniLaunchWillMissDeadline.
//
// Beside it Prometheus scrapes "an older exporter": the same exporter's /metrics with the account_id and region
// labels taken out, which the dashboard must still show under All.
//
// Test overlay (only here): scrape and evaluation every 1s, alert `for:` shortened to 20s, Alertmanager
// group_wait 1s. The shipped `for:` durations are covered by prometheus/tests (promtool test rules).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  dashboardTargets,
  escapeRegex,
  fillVariables,
  promCall,
  promLabelValues,
  renderAlertmanagerConfig,
  repoPath,
  runDashTarget,
  startPrometheus,
  startProc,
  tempDir,
  which,
  type Proc,
  type PromRuleFile,
  type Selection,
} from './helpers.js';
import { freePort, listenAnyPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const SCENARIO = 'scenarios/demo-hot.yml';
const OVERLAY_FOR = '20s';

/** Why the test cannot run here, or undefined. */
function missingPrerequisite(): string | undefined {
  for (const bin of ['prometheus', 'prometheus-alertmanager']) {
    if (!which(bin)) return `${bin} not on PATH (run scripts/install-monitoring-deps.sh)`;
  }
  if (!existsSync(repoPath('dist', 'cli.js'))) return 'dist/cli.js missing (run npm run build)';
  if (!existsSync(repoPath(SCENARIO))) return `${SCENARIO} missing`;
  return undefined;
}
const missing = missingPrerequisite();

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Received {
  path: string;
  body: { alerts?: WebhookAlert[]; attachments?: Array<{ title?: string; text?: string; title_link?: string }> };
}

describe('monitoring bundle end to end (demo exporter → Prometheus → Alertmanager → webhook)', () => {
  const tmp = tempDir('glue-eni-e2e');
  const procs: Proc[] = [];
  const received: Received[] = [];
  let hook: Server;
  let older: Server;
  let exporterUrl = '';
  /** The real exporter's `instance` label (the older copy has another). */
  let exporterInstance = '';
  let promUrl = '';
  let promStartedAt = 0;
  let poker: NodeJS.Timeout | undefined;
  /** Subnets where a launch was told it will miss its deadline. */
  const missed = new Set<string>();

  const prom = (path: string, params: Record<string, string>) => promCall(promUrl, path, params);

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  beforeAll(async () => {
    // Never a silent skip: a machine without the binaries fails here, saying what to install.
    if (missing) throw new Error(`cannot run the end-to-end test: ${missing}`);
    // Ports for the child processes; this process's own servers take theirs from the system as they listen (a
    // port found free, closed and listened on again can be taken meanwhile by another test's server).
    const [exporterPort, promPort, amPort] = [await freePort(), await freePort(), await freePort()];
    exporterUrl = `http://127.0.0.1:${exporterPort}`;
    exporterInstance = `127.0.0.1:${exporterPort}`;

    // The older exporter: today's /metrics without account_id and region.
    older = createServer((_req, res) => {
      void fetch(`${exporterUrl}/metrics`)
        .then(async (m) => {
          const text = (await m.text())
            .replace(/(account_id|region)="[^"]*",?/g, '')
            .replace(/,\}/g, '}')
            .replace(/\{\}/g, '');
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
        })
        .catch(() => res.writeHead(503).end());
    });
    const olderPort = await listenAnyPort(older);
    promUrl = `http://127.0.0.1:${promPort}`;

    // Webhook receivers: /page gets Alertmanager's webhook JSON, /chat the Slack-compatible message.
    hook = createServer((req, res) => {
      void readBody(req).then((text) => {
        try {
          received.push({ path: req.url ?? '', body: JSON.parse(text) as Received['body'] });
        } catch {
          received.push({ path: req.url ?? '', body: {} });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const hookPort = await listenAnyPort(hook);

    // The exporter's demo.
    const exporter = startProc(process.execPath, [
      repoPath('dist', 'cli.js'),
      'demo',
      '--scenario',
      SCENARIO,
      '--listen',
      `127.0.0.1:${exporterPort}`,
      '--speed',
      '60',
    ]);
    procs.push(exporter);

    // Alertmanager: the shipped template rendered as in the container, grouping waits shortened.
    const amConfig = join(tmp.path, 'alertmanager.yml');
    await renderAlertmanagerConfig(amConfig, {
      ALERTMANAGER_PAGE_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/page`,
      ALERTMANAGER_CHAT_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/chat`,
    });
    const am = parse(readFileSync(amConfig, 'utf8')) as { route: Record<string, unknown> };
    am.route.group_wait = '1s';
    am.route.group_interval = '1s';
    writeFileSync(amConfig, stringify(am));
    mkdirSync(join(tmp.path, 'am-data'));
    const alertmanager = startProc(which('prometheus-alertmanager')!, [
      `--config.file=${amConfig}`,
      `--storage.path=${join(tmp.path, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    procs.push(alertmanager);

    // Prometheus: shipped rules with `for:` shortened, 1s scrape and evaluation, sending to the Alertmanager above.
    const prometheus = startPrometheus(tmp.path, promPort, {
      targets: [exporterInstance, `127.0.0.1:${olderPort}`],
      forDuration: OVERLAY_FOR,
      alertmanager: `127.0.0.1:${amPort}`,
    });
    procs.push(prometheus);
    promStartedAt = Date.now();

    const ready = async (name: string, p: Proc, url: string) =>
      waitFor(`${name} at ${url}`, async () => ((await fetch(url)).ok ? true : undefined), 30_000, 250).catch((e: Error) => {
        throw new Error(`${e.message}\n--- ${name} output ---\n${p.output()}`);
      });
    await ready('exporter', exporter, `${exporterUrl}/-/healthy`);
    await ready('alertmanager', alertmanager, `http://127.0.0.1:${amPort}/-/ready`);
    await ready('prometheus', prometheus, `${promUrl}/-/ready`);

    // Sensors poke /admit for every subnet, as a scheduler would: decisions and the observation window fill up.
    // Five DAG runs per subnet re-poke (each holds one ticket while it waits). One launch asks for every usable
    // address, which never fits beside the cleanup buffer, so each subnet keeps a queue with a head and its ETA.
    // And one launch just too big for the room now, with a one-second deadline, is told it will miss it
    // whenever the subnet predicts room for it later (a start predicted after the deadline).
    let n = 0;
    const tick = async (k: number) => {
      const r = await prom('/api/v1/query', { query: `glue_eni_subnet_usable_ips{instance="${exporterInstance}"}` });
      const ask = async (q: string) => (await (await fetch(`${exporterUrl}/admit?${q}`)).json()) as Record<string, unknown>;
      await Promise.all(
        (r.data?.result ?? []).map(async (s) => {
          const id = s.metric.subnet_id!;
          const usable = Number(s.value?.[1]);
          await ask(`subnet=${id}&workers=10&dag_run_id=e2e_run_${id}_${k % 5}`);
          await ask(`subnet=${id}&workers=${usable}&dag_run_id=e2e_queue_${id}`);
          const look = await ask(`subnet=${id}&workers=1&dry_run=true`);
          const workers = Math.min(usable, Number(look.headroom_workers ?? 0) + 1);
          const miss = await ask(`subnet=${id}&workers=${workers}&client_id=e2e_miss_${id}_${k}&max_wait_seconds=1`);
          if (miss.will_miss_deadline === true) missed.add(id);
        }),
      );
    };
    poker = setInterval(() => {
      void tick(++n).catch(() => undefined);
    }, 3000);
  }, 90_000);

  afterAll(async () => {
    if (poker) clearInterval(poker);
    await Promise.all(procs.map((p) => p.stop()));
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
    await new Promise<void>((r) => (older ? older.close(() => r()) : r()));
    tmp.remove();
  });

  it('delivers GlueEniSubnetUtilizationHigh to the page webhook with labels and annotations, and the chat message links the runbook', async () => {
    const page = await waitFor(
      'GlueEniSubnetUtilizationHigh on the page webhook',
      async () =>
        received
          .filter((r) => r.path === '/page')
          .flatMap((r) => r.body.alerts ?? [])
          .find((a) => a.labels.alertname === 'GlueEniSubnetUtilizationHigh' && a.status === 'firing'),
      180_000,
      1000,
    ).catch(async (e: Error) => {
      const util = await prom('/api/v1/query', { query: 'glue_eni_subnet_utilization_ratio' }).catch(() => undefined);
      throw new Error(`${e.message}\nutilization now: ${JSON.stringify(util?.data?.result)}\nexporter output:\n${procs[0]?.output()}`);
    });
    expect(page.labels.severity).toBe('critical');
    expect(page.labels.subnet_id).toMatch(/^subnet-[0-9a-f]+$/);
    expect(page.labels.subnet).toEqual(expect.any(String));
    expect(page.labels.subnet.length).toBeGreaterThan(0);
    // The account and region are named when the exporter labels its series with them.
    const where = `${page.labels.account_id ? ` of account ${page.labels.account_id}` : ''}${page.labels.region ? ` in ${page.labels.region}` : ''}`;
    expect(page.annotations.summary).toMatch(new RegExp(`^Subnet ${page.labels.subnet}${where} is \\d+(\\.\\d+)?% full$`));
    expect(page.annotations.description).toContain(page.labels.subnet_id);
    if (page.labels.account_id) expect(page.annotations.description).toContain(`account ${page.labels.account_id}`);
    expect(page.annotations.description).toMatch(/\(\d+ of \d+ IPs\)/);
    expect(page.annotations.runbook_url).toMatch(/\/docs\/runbook\.md#glueenisubnetutilizationhigh$/);

    // The utilization that fired is really above 80 % in Prometheus.
    const ratio = await prom('/api/v1/query', {
      query: `glue_eni_subnet_utilization_ratio{subnet_id="${page.labels.subnet_id}",account_id="${page.labels.account_id ?? ''}",region="${page.labels.region ?? ''}"}`,
    });
    expect(Number(ratio.data.result[0]?.value?.[1])).toBeGreaterThan(0.8);

    const chat = await waitFor(
      'the chat message',
      async () =>
        received
          .filter((r) => r.path === '/chat')
          .flatMap((r) => r.body.attachments ?? [])
          // Its own group's message: the older exporter's copy of the alert is grouped apart (no account labels).
          .find((a) => a.title?.includes('GlueEniSubnetUtilizationHigh') && a.text?.includes(page.annotations.summary!)),
      30_000,
      500,
    );
    expect(chat.text).toContain(page.annotations.summary);
    expect(chat.text).toContain(`Runbook: ${page.annotations.runbook_url}`);
    expect(chat.title_link).toBe(page.annotations.runbook_url);
  }, 200_000);

  it('every query of every dashboard panel returns data from this Prometheus, for all subnets and for each one', async () => {
    const targets = dashboardTargets();
    expect(new Set(targets.map((t) => t.panel)).size).toBeGreaterThan(5);

    const info = await prom('/api/v1/query', { query: 'glue_eni_subnet_info' });
    const subnets = [...new Set(info.data.result.map((r) => r.metric.subnet!))].sort();
    expect(subnets.length).toBeGreaterThan(0);
    // Both exporters are scraped: the labelled one and the older one without the labels.
    const up = await prom('/api/v1/query', { query: 'up{job="glue-eni-exporter"} == 1' });
    expect(up.data.result.length).toBe(2);
    // The variables' label_values() as Grafana asks them (the label values API), each chained on the one before:
    // under All (`.*`) every subnet is offered, with or without the account labels.
    const labelValues = (label: string, match: string) => promLabelValues(promUrl, label, match);
    const accounts = await labelValues('account_id', 'glue_eni_subnet_info');
    expect(await labelValues('subnet', 'glue_eni_subnet_info{account_id=~".*",region=~".*"}')).toEqual(subnets);
    for (const a of accounts) {
      const regions = await labelValues('region', `glue_eni_subnet_info{account_id=~"${a}"}`);
      expect(regions.length, `regions of account ${a}`).toBeGreaterThan(0);
      for (const g of regions)
        expect((await labelValues('subnet', `glue_eni_subnet_info{account_id=~"${a}",region=~"${g}"}`)).length).toBeGreaterThan(0);
    }
    // The duration panels need ENIs that went in-use → available → deleted while watched: a minute or two
    // of demo time. Wait for them in every subnet rather than accept an empty panel, and for a few scrapes of
    // each series since: `increase()` needs two samples in its window, a series born at the last scrape has one.
    for (const metric of ['glue_eni_available_duration_seconds_count', 'glue_eni_linger_duration_seconds_count']) {
      await waitFor(
        `${metric} > 0 in every subnet, scraped at least 5 times`,
        async () => {
          const r = await prom('/api/v1/query', {
            query: `count by (subnet) (${metric} > 0 and count_over_time(${metric}[10m]) >= 5)`,
          });
          return r.data.result.length === subnets.length ? true : undefined;
        },
        180_000,
        2_000,
      );
    }
    const anyOf = (xs: string[]) => `(${xs.map(escapeRegex).join('|')})`;
    // What the variables expand to: All (`.*` for account and region, Grafana's list for subnet), each subnet
    // in its own account and region, and each account alone (then only its series may come back).
    const selections: Array<Selection & { onlyAccount?: string }> = [
      { subnet: anyOf(subnets), account: '.*', region: '.*' },
      ...info.data.result.map((r) => ({
        subnet: escapeRegex(r.metric.subnet!),
        account: r.metric.account_id ? escapeRegex(r.metric.account_id) : '.*',
        region: r.metric.region ? escapeRegex(r.metric.region) : '.*',
      })),
      ...accounts.map((a) => ({
        subnet: anyOf(info.data.result.filter((r) => r.metric.account_id === a).map((r) => r.metric.subnet!)),
        account: escapeRegex(a),
        region: '.*',
        onlyAccount: a,
      })),
    ];

    const now = Date.now() / 1000;
    const start = promStartedAt / 1000;
    const rangeSeconds = Math.max(60, Math.floor(now - start));
    const failures: string[] = [];
    let checked = 0;
    for (const t of targets) {
      for (const sel of selections) {
        const expr = fillVariables(t.expr, sel, rangeSeconds);
        const r = await runDashTarget(promUrl, t, expr, start, now);
        checked++;
        if (r.status !== 'success') failures.push(`${t.panel} [${t.refId}] ${expr}: ${r.error}`);
        // The window rows exist only under rolling-max and tail-aware (or a stale sample): the demo runs the
        // default, forecast, so that query must answer but may be empty; its buffer column must not be.
        else if (r.data.result.length === 0 && !(t.panel.startsWith('Admission window') && t.expr.includes('glue_eni_admission_window_enis')))
          failures.push(`${t.panel} [${t.refId}] ${expr}: empty result`);
        // Under All, a per-subnet breakdown shows the older exporter's subnets too (`.*` matches the absent labels).
        else if (
          sel.account === '.*' &&
          r.data.result.length > 0 &&
          t.expr.includes('by (subnet, account_id, region') &&
          !r.data.result.some((x) => x.metric.account_id === undefined && x.metric.subnet !== undefined)
        )
          failures.push(`${t.panel} [${t.refId}] ${expr}: no series of the exporter without account labels`);
        else if (sel.onlyAccount !== undefined) {
          const foreign = r.data.result.filter((x) => x.metric.account_id !== undefined && x.metric.account_id !== sel.onlyAccount);
          if (foreign.length > 0) failures.push(`${t.panel} [${t.refId}] ${expr}: series of other accounts ${JSON.stringify(foreign[0]?.metric)}`);
        }
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(checked).toBeGreaterThan(targets.length);

    // The alert list panel shows Prometheus' alerts: the fired alert is there.
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
      data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
    };
    expect(alerts.data.alerts.some((a) => a.labels.alertname === 'GlueEniSubnetUtilizationHigh' && a.state === 'firing')).toBe(true);
  }, 300_000);

  it('Prometheus loaded every shipped rule without evaluation errors', async () => {
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    const shipped = readdirSync(repoPath('prometheus', 'rules'))
      .filter((n) => n.endsWith('.yml'))
      .flatMap((f) => (parse(readFileSync(repoPath('prometheus', 'rules', f), 'utf8')) as PromRuleFile).groups.flatMap((g) => g.rules));
    expect(all.map((r) => r.name).sort()).toEqual(shipped.map((r) => r.alert ?? r.record).sort());
    const bad = all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    expect(bad).toEqual([]);
  });

  it('a wait holds a ticket with an ETA, a dry run holds none, and a launch that cannot meet its deadline fires GlueEniLaunchWillMissDeadline', async () => {
    const info = await prom('/api/v1/query', { query: `glue_eni_subnet_usable_ips{instance="${exporterInstance}"}` });
    const subnets = info.data.result.map((r) => ({ id: r.metric.subnet_id!, name: r.metric.subnet!, usable: Number(r.value?.[1]) }));
    expect(subnets.length).toBeGreaterThan(0);
    for (const s of subnets) {
      const wait = (await (await fetch(`${exporterUrl}/admit?subnet=${s.id}&workers=${s.usable}&dag_run_id=e2e_queue_${s.id}`)).json()) as Record<
        string,
        unknown
      >;
      expect(wait.admit, JSON.stringify(wait)).toBe(false);
      expect(wait.ticket).toMatch(new RegExp(`^${s.id}\\.t\\.[0-9a-f]+$`));
      expect(wait.queue_position).toEqual(expect.any(Number));
      expect(wait.eta_seconds === null || typeof wait.eta_seconds === 'number', `eta_seconds ${String(wait.eta_seconds)}`).toBe(true);
      expect(wait.retry_after_seconds).toEqual(expect.any(Number));
      const preview = (await (
        await fetch(`${exporterUrl}/admit?subnet=${s.id}&workers=${s.usable}&client_id=e2e_look&dry_run=true`)
      ).json()) as Record<string, unknown>;
      expect(preview.dry_run).toBe(true);
      // Nothing enqueued: the ticket a preview names (if any) does not exist.
      if (preview.ticket !== undefined)
        expect((await fetch(`${exporterUrl}/admit/${String(preview.ticket)}`, { method: 'DELETE' })).status).toBe(404);
    }
    // A miss needs a predicted start after the deadline: a subnet whose running jobs hold everything for the
    // whole horizon predicts none (no miss, the wait goes on), so at least one subnet, not every one.
    await waitFor('a launch told will_miss_deadline', async () => (missed.size > 0 ? true : undefined), 60_000, 1000);
    const firing = await waitFor(
      `GlueEniLaunchWillMissDeadline firing for ${[...missed].join(', ')}`,
      async () => {
        const r = await prom('/api/v1/query', { query: 'ALERTS{alertname="GlueEniLaunchWillMissDeadline", alertstate="firing"}' });
        const ids = new Set(r.data.result.map((a) => a.metric.subnet_id));
        return [...missed].every((id) => ids.has(id)) ? r.data.result : undefined;
      },
      60_000,
      1000,
    );
    expect(firing.every((a) => a.metric.severity === 'critical')).toBe(true);
    const misses = await prom('/api/v1/query', { query: 'sum by (subnet_id) (glue_eni_deadline_misses_total)' });
    // No phantom misses: a subnet counts misses only where a launch was told it will miss.
    for (const m of misses.data.result) if (Number(m.value?.[1]) > 0) expect(missed, `misses of ${m.metric.subnet_id}`).toContain(m.metric.subnet_id);
  }, 90_000);

  // The sensors really reached /admit (the window table and the holds panel depend on it).
  it('the admission endpoint answered the sensors', async () => {
    const r = await prom('/api/v1/query', { query: 'sum(glue_eni_admission_decisions_total)' });
    expect(Number(r.data.result[0]?.value?.[1] ?? 0)).toBeGreaterThan(0);
  });
});
