// The "Glue ENI — Subnet utilization" dashboard as code. Generic over any number of accounts, regions and subnets:
// everything is filtered by the `account`, `region` and `subnet` variables (each chained on the ones before it) and
// the per-subnet row repeats for each selected subnet. Per-subnet series are kept apart by account and region too:
// two accounts may name a subnet alike.
//
// Build:  tsc -p grafana/tsconfig.json && node .tmp/grafana/dashboard.js [output.json]
// The output defaults to grafana/dashboards/glue-eni.json (committed; a test fails when it drifts).
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  MappingType,
  PanelBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  TimePickerBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

export const DASHBOARD_UID = 'glue-eni-subnets';

/** Every panel and query reads the data source chosen in the `datasource` variable. */
const ds: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/**
 * Selector of the accounts and regions picked in their variables (regexes: "All" is `.*`, which also matches a series
 * without the label, so an exporter older than the labels still shows under All).
 */
const TARGET = 'account_id=~"$account",region=~"$region"';

/** Selector of the subnets picked in the `subnet` variable, within the chosen accounts and regions. */
const SUBNET = `subnet=~"$subnet",${TARGET}`;

/** The labels that tell one subnet from another: its name, and the account and region that hold it. */
const PER_SUBNET = 'subnet, account_id, region';

/** Legend suffix naming a series' account and region (empty for a series without them). */
const WHERE = ' {{account_id}} {{region}}';

/** "Today" panels: Grafana's relative time "today so far", so $__range is the time since local midnight. */
const TODAY = 'now/d';

function query(refId: string, expr: string, legend: string, opts: { instant?: boolean; table?: boolean } = {}) {
  const q = new DataqueryBuilder().datasource(ds).refId(refId).expr(expr).legendFormat(legend);
  if (opts.instant) q.instant();
  else q.range();
  if (opts.table) q.format(PromQueryFormat.Table);
  return q;
}

function thresholds(steps: Array<[number | null, string]>) {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));
}

/** Matches a legend whatever account and region follow it (overrides by exact name would miss them). */
function legendOf(name: string): string {
  const literal = name.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
  return `^${literal}( .*)?$`;
}

function statPanel(title: string, description: string) {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .textMode(common.BigValueTextMode.ValueAndName);
}

const unitOverride = (refId: string, unit: string) => ({
  matcher: { id: 'byFrameRefID', options: refId },
  properties: [{ id: 'unit', value: unit }],
});

function utilizationPanel() {
  return statPanel(
    'Utilization — $subnet',
    'Used IPs (all ENIs, any owner or status) of the usable IPs (2^(32-prefix) - 5). The alert fires above 80 %; resume normal scheduling below 60 %.',
  )
    .repeat('subnet')
    .repeatDirection('h')
    .maxPerRow(4)
    .withTarget(query('A', `max by (${PER_SUBNET}) (glue_eni_subnet_utilization_ratio{${SUBNET}})`, `utilization${WHERE}`, { instant: true }))
    .withTarget(query('B', `max by (${PER_SUBNET}) (glue_eni_subnet_used_ips{${SUBNET}})`, `used IPs${WHERE}`, { instant: true }))
    .withTarget(query('C', `max by (${PER_SUBNET}) (glue_eni_subnet_usable_ips{${SUBNET}})`, `usable IPs${WHERE}`, { instant: true }))
    .unit('percentunit')
    .min(0)
    .max(1)
    .thresholds(
      thresholds([
        [null, 'green'],
        [0.6, 'yellow'],
        [0.8, 'red'],
      ]),
    )
    .withOverride(unitOverride('B', 'none'))
    .withOverride(unitOverride('C', 'none'))
    .gridPos({ x: 0, y: 0, w: 6, h: 5 });
}

function sensorHoldsPanel() {
  const all = `sum(increase(glue_eni_admission_decisions_total{${SUBNET}}[$__range]))`;
  return statPanel('Sensor holds (today)', 'Admission decisions that answered "wait", of all decisions today.')
    .timeFrom(TODAY)
    .withTarget(
      // No "wait" series yet only means no wait today: 0 of the decisions.
      query('A', `sum(increase(glue_eni_admission_decisions_total{decision="wait",${SUBNET}}[$__range])) or on() 0 * ${all}`, 'waits', {
        instant: true,
      }),
    )
    .withTarget(query('B', all, 'decisions', { instant: true }))
    .decimals(0)
    .unit('none')
    .thresholds(
      thresholds([
        [null, 'green'],
        [1, 'yellow'],
      ]),
    )
    .withOverride({ matcher: { id: 'byFrameRefID', options: 'B' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'text' } }] })
    .gridPos({ x: 0, y: 5, w: 5, h: 6 });
}

function exhaustionPanel() {
  const none = `0 * count(glue_eni_subnet_info{${SUBNET}})`;
  return statPanel(
    'IP exhaustion failures (today) · days since last',
    'Glue job runs that failed with "The specified subnet does not have enough free addresses" today, and the days since the last one (or since monitoring began, at most 90).',
  )
    .timeFrom(TODAY)
    .withTarget(
      // No counter series means no failure: show 0 for the selected subnets.
      query('A', `sum(increase(glue_eni_exhaustion_failures_total{${SUBNET}}[$__range])) or on() ${none}`, 'failures today', { instant: true }),
    )
    .withTarget(
      query(
        'B',
        `(time() - max(max_over_time(subnet:glue_eni_exhaustion_failures:last_timestamp_seconds{${SUBNET}}[90d]))) / 86400` +
          ` or on() (time() - min(min_over_time(target:glue_eni_monitored:timestamp_seconds{${TARGET}}[90d]))) / 86400`,
        'days since last',
        { instant: true },
      ),
    )
    .decimals(0)
    .unit('none')
    .thresholds(
      thresholds([
        [null, 'green'],
        [1, 'red'],
      ]),
    )
    .withOverride({ matcher: { id: 'byFrameRefID', options: 'B' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'text' } }] })
    .gridPos({ x: 5, y: 5, w: 5, h: 6 });
}

function samplerPanel() {
  return statPanel(
    'Last good sample',
    "Age of the last good sample of the stalest chosen account and region (each is sampled on its own), and whether every last sample succeeded. /admit answers 503 for a target's subnets once its sample is older than the allowed age.",
  )
    .withTarget(query('A', `time() - min(max by (account_id, region) (glue_eni_last_sample_timestamp_seconds{${TARGET}}))`, 'age', { instant: true }))
    .withTarget(query('B', `min(glue_eni_sample_success{${TARGET}})`, 'last sample ok', { instant: true }))
    .unit('s')
    .thresholds(
      thresholds([
        [null, 'green'],
        [180, 'yellow'],
        [300, 'red'],
      ]),
    )
    .withOverride({
      matcher: { id: 'byFrameRefID', options: 'B' },
      properties: [
        { id: 'unit', value: 'bool_yes_no' },
        {
          id: 'thresholds',
          value: {
            mode: 'absolute',
            steps: [
              { value: null, color: 'red' },
              { value: 1, color: 'green' },
            ],
          },
        },
      ],
    })
    .gridPos({ x: 10, y: 5, w: 4, h: 6 });
}

function alertsPanel() {
  // No SDK builder for alertlist: the generic panel with the unified alert list options.
  return new PanelBuilder()
    .type('alertlist')
    .title('Active alerts')
    .description('Firing and pending glue-eni alerts (Prometheus rules, routed through Alertmanager).')
    .datasource(ds)
    .options({
      viewMode: 'list',
      groupMode: 'default',
      groupBy: [],
      maxItems: 20,
      sortOrder: 1,
      dashboardAlerts: false,
      alertName: 'GlueEni',
      alertInstanceLabelFilter: '',
      datasource: '${datasource}',
      folder: null,
      showInactiveAlerts: false,
      stateFilter: { firing: true, pending: true, noData: false, normal: false, error: true },
    })
    .gridPos({ x: 14, y: 5, w: 10, h: 6 });
}

function windowTablePanel() {
  return new table.PanelBuilder()
    .title('Admission window (last observations per subnet; rolling-max and tail-aware)')
    .description(
      'The observations a rolling-max or tail-aware buffer is taken from: slot 1 is the newest; that buffer is the max over the window (floored at MIN_BUFFER). ' +
        'Under forecast (the default) the window is empty while samples are fresh: its buffer is the bypass margin plus unseen workers, ' +
        'and the worst recent tail only when the sample is older than two intervals.',
    )
    .datasource(ds)
    .withTarget(
      query('A', `max by (${PER_SUBNET}, slot, dag_run_id) (glue_eni_admission_window_enis{${SUBNET}})`, '', { instant: true, table: true }),
    )
    .withTarget(query('B', `max by (${PER_SUBNET}) (glue_eni_cleanup_buffer{${SUBNET}})`, '', { instant: true, table: true }))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName: { subnet: 0, account_id: 1, region: 2, slot: 3, dag_run_id: 4, 'Value #A': 5, 'Value #B': 6 },
        renameByName: { account_id: 'account', slot: 'slot', dag_run_id: 'dag_run_id', 'Value #A': 'ENIs', 'Value #B': 'buffer' },
      },
    })
    .sortBy([new common.TableSortByFieldStateBuilder().displayName('slot').desc(false)])
    .unit('none')
    .gridPos({ x: 0, y: 11, w: 24, h: 7 });
}

/** A per-subnet count over time: whole numbers, legend below, every series in the tooltip. */
function countsPanel(title: string, description: string) {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .unit('none')
    .decimals(0)
    .lineWidth(2)
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.None));
}

/** Zero for each selected subnet: a series that does not exist yet reads as 0, not as no data. */
const ZERO_PER_SUBNET = `sum by (${PER_SUBNET}) (0 * glue_eni_subnet_usable_ips{${SUBNET}})`;

function eniCountPanel() {
  const zero = ZERO_PER_SUBNET;
  return countsPanel(
    '$subnet — ENI count over time',
    "ENIs holding IPs: in-use, available (cleanup lag), lingering (in-use after the job ended), the admission buffer of the subnet's policy and the 80 % alert line.",
  )
    .withTarget(query('A', `sum by (${PER_SUBNET}) (glue_eni_enis{status="in-use",${SUBNET}}) or ${zero}`, `in-use${WHERE}`))
    .withTarget(query('B', `sum by (${PER_SUBNET}) (glue_eni_enis{status="available",${SUBNET}}) or ${zero}`, `available (cleanup lag)${WHERE}`))
    .withTarget(query('C', `sum by (${PER_SUBNET}) (glue_eni_lingering_enis{${SUBNET}})`, `lingering${WHERE}`))
    .withTarget(query('D', `max by (${PER_SUBNET}) (glue_eni_cleanup_buffer{${SUBNET}})`, `admission buffer${WHERE}`))
    .withTarget(query('E', `0.8 * max by (${PER_SUBNET}) (glue_eni_subnet_usable_ips{${SUBNET}})`, `80 % alert threshold${WHERE}`))
    .withTarget(query('F', `max by (${PER_SUBNET}) (glue_eni_subnet_usable_ips{${SUBNET}})`, `usable IPs${WHERE}`))
    .min(0)
    .fillOpacity(10)
    .overrideByRegexp(legendOf('80 % alert threshold'), [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ])
    .overrideByRegexp(legendOf('usable IPs'), [
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'text' } },
    ])
    .overrideByRegexp(legendOf('admission buffer'), [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } },
    ])
    .gridPos({ x: 0, y: 19, w: 16, h: 9 });
}

function peakPanel() {
  return statPanel('$subnet — peak today', 'Most ENIs in the subnet at once today (all statuses and owners).')
    .timeFrom(TODAY)
    .withTarget(
      query('A', `max by (${PER_SUBNET}) (max_over_time(subnet:glue_eni_enis:sum{${SUBNET}}[$__range]))`, `peak ENIs${WHERE}`, { instant: true }),
    )
    .unit('none')
    .decimals(0)
    .gridPos({ x: 16, y: 19, w: 8, h: 3 });
}

function cleanupTailPanel() {
  return statPanel(
    '$subnet — cleanup tail avg',
    'Average time an ENI stayed "available" (still holding its IP) before Glue deleted it, over the dashboard range.',
  )
    .withTarget(
      query(
        'A',
        `sum by (${PER_SUBNET}) (increase(glue_eni_available_duration_seconds_sum{${SUBNET}}[$__range])) / sum by (${PER_SUBNET}) (increase(glue_eni_available_duration_seconds_count{${SUBNET}}[$__range]))`,
        `available → deleted${WHERE}`,
        { instant: true },
      ),
    )
    .withTarget(
      query(
        'B',
        `sum by (${PER_SUBNET}) (increase(glue_eni_linger_duration_seconds_sum{${SUBNET}}[$__range])) / sum by (${PER_SUBNET}) (increase(glue_eni_linger_duration_seconds_count{${SUBNET}}[$__range]))`,
        `in-use after job end${WHERE}`,
        { instant: true },
      ),
    )
    .unit('s')
    .decimals(0)
    .noValue('no ENI deleted in range')
    .gridPos({ x: 16, y: 22, w: 8, h: 3 });
}

function jobsPanel() {
  return statPanel('$subnet — jobs running × workers', 'Active Glue job runs bound to the subnet and the workers they hold.')
    .withTarget(query('A', `sum by (${PER_SUBNET}) (glue_eni_job_runs_active{${SUBNET}})`, `job runs${WHERE}`, { instant: true }))
    .withTarget(query('B', `sum by (${PER_SUBNET}) (glue_eni_workers_active{${SUBNET}})`, `workers${WHERE}`, { instant: true }))
    .unit('none')
    .decimals(0)
    .gridPos({ x: 16, y: 25, w: 8, h: 3 });
}

/** Past this the head-of-queue ETA reads "over 4 h or none predicted": +Inf (no admission within the forecast horizon) has no JSON form for a value mapping. */
const ETA_CAP_SECONDS = 4 * 3600;

function queuePanel() {
  return (
    countsPanel(
      '$subnet — queue',
      'Launches waiting for room (tickets: waits that carry a dag_run_id or client_id), and launches told they cannot start before their deadline (will_miss_deadline; the alert GlueEniLaunchWillMissDeadline fires on any).',
    )
      .withTarget(query('A', `max by (${PER_SUBNET}) (glue_eni_queue_length{${SUBNET}})`, `waiting launches${WHERE}`))
      // No counter series yet only means no miss yet.
      .withTarget(
        query(
          'B',
          `sum by (${PER_SUBNET}) (increase(glue_eni_deadline_misses_total{${SUBNET}}[$__rate_interval])) or ${ZERO_PER_SUBNET}`,
          `deadline misses${WHERE}`,
        ),
      )
      .min(0)
      .fillOpacity(10)
      .overrideByRegexp(legendOf('deadline misses'), [
        { id: 'custom.drawStyle', value: 'bars' },
        { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
      ])
      .gridPos({ x: 0, y: 28, w: 8, h: 8 })
  );
}

function headEtaPanel() {
  return statPanel(
    '$subnet — head of the queue: ETA',
    'When the launch at the head of the queue is expected to be admitted (conservative). "Over 4 h or none predicted": no admission within the forecast horizon. No value: nobody waits.',
  )
    .withTarget(
      query('A', `clamp_max(max by (${PER_SUBNET}) (glue_eni_queue_head_eta_seconds{${SUBNET}}), ${ETA_CAP_SECONDS})`, `head ETA${WHERE}`, {
        instant: true,
      }),
    )
    .unit('s')
    .decimals(0)
    .noValue('queue empty')
    .mappings([
      {
        type: MappingType.RangeToText,
        options: { from: ETA_CAP_SECONDS, to: ETA_CAP_SECONDS, result: { text: 'over 4 h or none predicted', color: 'red' } },
      },
    ])
    .thresholds(
      thresholds([
        [null, 'green'],
        [900, 'yellow'],
        [3600, 'red'],
      ]),
    )
    .gridPos({ x: 8, y: 28, w: 4, h: 8 });
}

function predictedFreePanel() {
  return countsPanel(
    '$subnet — predicted free addresses',
    "Free addresses predicted 15, 30 and 60 minutes ahead (conservative, p90; reservations subtracted), from each ENI's age and the learned linger and available durations, beside the free addresses now.",
  )
    .withTarget(query('A', `max by (${PER_SUBNET}, horizon) (glue_eni_predicted_free_ips{${SUBNET}})`, `in {{horizon}}${WHERE}`))
    .withTarget(
      query('B', `max by (${PER_SUBNET}) (glue_eni_subnet_usable_ips{${SUBNET}} - glue_eni_subnet_used_ips{${SUBNET}})`, `free now${WHERE}`),
    )
    .fillOpacity(0)
    .overrideByRegexp(legendOf('free now'), [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'text' } },
    ])
    .gridPos({ x: 12, y: 28, w: 12, h: 8 });
}

/** A multi-value variable with All, from the values of a label of the subnets' info series. */
function labelVariable(name: string, label: string, labelValues: string) {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(ds)
    .query({ query: labelValues, refId: name })
    .definition(labelValues)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .current({ text: ['All'], value: ['$__all'] });
}

export function buildDashboard(): Dashboard {
  // An expanded row owns the panels that follow it (nested `panels` are only for collapsed rows),
  // so the row is added empty and its panels after it; Grafana repeats all of them per subnet.
  const subnetRow = new RowBuilder('Subnet $subnet').repeat('subnet').collapsed(false).gridPos({ x: 0, y: 18, w: 24, h: 1 });

  const builder = new DashboardBuilder('Glue ENI — Subnet utilization')
    .uid(DASHBOARD_UID)
    .description('ENI and IP usage of the subnets Glue jobs run in, the admission gate, and the cleanup tail (glue-eni-exporter).')
    .tags(['glue-eni', 'aws', 'glue'])
    .editable()
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .timepicker(new TimePickerBuilder().refreshIntervals(['30s', '1m', '5m', '15m']))
    .withVariable(
      new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus').current({ text: 'Prometheus', value: 'prometheus' }),
    )
    .withVariable(labelVariable('account', 'Account', 'label_values(glue_eni_subnet_info, account_id)').allValue('.*'))
    .withVariable(labelVariable('region', 'Region', 'label_values(glue_eni_subnet_info{account_id=~"$account"}, region)').allValue('.*'))
    // All subnets means those of the chosen accounts and regions (Grafana's own All: the list of their names).
    .withVariable(labelVariable('subnet', 'Subnet', `label_values(glue_eni_subnet_info{${TARGET}}, subnet)`));

  const top: Array<cog.Builder<import('@grafana/grafana-foundation-sdk/dashboard').Panel>> = [
    utilizationPanel(),
    sensorHoldsPanel(),
    exhaustionPanel(),
    samplerPanel(),
    alertsPanel(),
    windowTablePanel(),
  ];
  for (const p of top) builder.withPanel(p);
  builder.withRow(subnetRow);
  for (const p of [eniCountPanel(), peakPanel(), cleanupTailPanel(), jobsPanel(), queuePanel(), headEtaPanel(), predictedFreePanel()])
    builder.withPanel(p);

  const dash = builder.build();
  assignIds(dash);
  return dash;
}

/** Stable, unique panel ids in layout order (rows and their nested panels included). */
function assignIds(dash: Dashboard): void {
  let id = 1;
  for (const panel of dash.panels ?? []) {
    (panel as { id?: number }).id = id++;
    for (const inner of (panel as { panels?: Array<{ id?: number }> }).panels ?? []) inner.id = id++;
  }
}

export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  // Compiled to .tmp/grafana/dashboard.js: the repository root is two levels up.
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out = resolve(process.argv[2] ?? resolve(root, 'grafana', 'dashboards', 'glue-eni.json'));
  writeFileSync(out, renderDashboard());
  console.log(`wrote ${out}`);
}
