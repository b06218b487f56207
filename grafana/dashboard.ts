// The "Glue ENI — Subnet utilization" dashboard as code. Generic over any number of subnets: everything is
// filtered by the `subnet` variable and the per-subnet row repeats for each selected subnet.
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

/** Selector of the subnets picked in the `subnet` variable (a regex: "All" and multi-value both work). */
const SUBNET = 'subnet=~"$subnet"';

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
    .withTarget(query('A', `max by (subnet) (glue_eni_subnet_utilization_ratio{${SUBNET}})`, 'utilization', { instant: true }))
    .withTarget(query('B', `max by (subnet) (glue_eni_subnet_used_ips{${SUBNET}})`, 'used IPs', { instant: true }))
    .withTarget(query('C', `max by (subnet) (glue_eni_subnet_usable_ips{${SUBNET}})`, 'usable IPs', { instant: true }))
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
          ` or on() (time() - min(min_over_time(job:glue_eni_monitored:timestamp_seconds[90d]))) / 86400`,
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
  return statPanel('Last good sample', "Age of the exporter's last good sample. /admit answers 503 once it is older than the allowed age.")
    .withTarget(query('A', 'time() - max(glue_eni_last_sample_timestamp_seconds)', 'age', { instant: true }))
    .withTarget(query('B', 'min(glue_eni_sample_success)', 'last sample ok', { instant: true }))
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
    .withTarget(query('A', `max by (subnet, slot, dag_run_id) (glue_eni_admission_window_enis{${SUBNET}})`, '', { instant: true, table: true }))
    .withTarget(query('B', `max by (subnet) (glue_eni_cleanup_buffer{${SUBNET}})`, '', { instant: true, table: true }))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName: { subnet: 0, slot: 1, dag_run_id: 2, 'Value #A': 3, 'Value #B': 4 },
        renameByName: { slot: 'slot', dag_run_id: 'dag_run_id', 'Value #A': 'ENIs', 'Value #B': 'buffer' },
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
const ZERO_PER_SUBNET = `sum by (subnet) (0 * glue_eni_subnet_usable_ips{${SUBNET}})`;

function eniCountPanel() {
  const zero = ZERO_PER_SUBNET;
  return countsPanel(
    '$subnet — ENI count over time',
    "ENIs holding IPs: in-use, available (cleanup lag), lingering (in-use after the job ended), the admission buffer of the subnet's policy and the 80 % alert line.",
  )
    .withTarget(query('A', `sum by (subnet) (glue_eni_enis{status="in-use",${SUBNET}}) or ${zero}`, 'in-use'))
    .withTarget(query('B', `sum by (subnet) (glue_eni_enis{status="available",${SUBNET}}) or ${zero}`, 'available (cleanup lag)'))
    .withTarget(query('C', `sum by (subnet) (glue_eni_lingering_enis{${SUBNET}})`, 'lingering'))
    .withTarget(query('D', `max by (subnet) (glue_eni_cleanup_buffer{${SUBNET}})`, 'admission buffer'))
    .withTarget(query('E', `0.8 * max by (subnet) (glue_eni_subnet_usable_ips{${SUBNET}})`, '80 % alert threshold'))
    .withTarget(query('F', `max by (subnet) (glue_eni_subnet_usable_ips{${SUBNET}})`, 'usable IPs'))
    .min(0)
    .fillOpacity(10)
    .overrideByName('80 % alert threshold', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ])
    .overrideByName('usable IPs', [
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'text' } },
    ])
    .overrideByName('admission buffer', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } },
    ])
    .gridPos({ x: 0, y: 19, w: 16, h: 9 });
}

function peakPanel() {
  return statPanel('$subnet — peak today', 'Most ENIs in the subnet at once today (all statuses and owners).')
    .timeFrom(TODAY)
    .withTarget(query('A', `max(max_over_time(subnet:glue_eni_enis:sum{${SUBNET}}[$__range]))`, 'peak ENIs', { instant: true }))
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
        `sum(increase(glue_eni_available_duration_seconds_sum{${SUBNET}}[$__range])) / sum(increase(glue_eni_available_duration_seconds_count{${SUBNET}}[$__range]))`,
        'available → deleted',
        { instant: true },
      ),
    )
    .withTarget(
      query(
        'B',
        `sum(increase(glue_eni_linger_duration_seconds_sum{${SUBNET}}[$__range])) / sum(increase(glue_eni_linger_duration_seconds_count{${SUBNET}}[$__range]))`,
        'in-use after job end',
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
    .withTarget(query('A', `sum(glue_eni_job_runs_active{${SUBNET}})`, 'job runs', { instant: true }))
    .withTarget(query('B', `sum(glue_eni_workers_active{${SUBNET}})`, 'workers', { instant: true }))
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
      .withTarget(query('A', `max by (subnet) (glue_eni_queue_length{${SUBNET}})`, 'waiting launches'))
      // No counter series yet only means no miss yet.
      .withTarget(
        query(
          'B',
          `sum by (subnet) (increase(glue_eni_deadline_misses_total{${SUBNET}}[$__rate_interval])) or ${ZERO_PER_SUBNET}`,
          'deadline misses',
        ),
      )
      .min(0)
      .fillOpacity(10)
      .overrideByName('deadline misses', [
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
      query('A', `clamp_max(max by (subnet) (glue_eni_queue_head_eta_seconds{${SUBNET}}), ${ETA_CAP_SECONDS})`, 'head ETA', { instant: true }),
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
    .withTarget(query('A', `max by (subnet, horizon) (glue_eni_predicted_free_ips{${SUBNET}})`, 'in {{horizon}}'))
    .withTarget(query('B', `max by (subnet) (glue_eni_subnet_usable_ips{${SUBNET}} - glue_eni_subnet_used_ips{${SUBNET}})`, 'free now'))
    .fillOpacity(0)
    .overrideByName('free now', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'text' } },
    ])
    .gridPos({ x: 12, y: 28, w: 12, h: 8 });
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
    .withVariable(
      new QueryVariableBuilder('subnet')
        .label('Subnet')
        .datasource(ds)
        .query({ query: 'label_values(glue_eni_subnet_info, subnet)', refId: 'subnet' })
        .definition('label_values(glue_eni_subnet_info, subnet)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .current({ text: ['All'], value: ['$__all'] }),
    );

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
