// /metrics in the format the scraper asks for: OpenMetrics 1.0.0 when its Accept header prefers it (Prometheus
// does), the Prometheus text format otherwise.
import { Registry, type Metric } from 'prom-client';

export const TEXT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
/** The media types /metrics offers, in order of preference when the client rates them alike (`*\/*`). */
export const OFFERED_TYPES = ['text/plain', 'application/openmetrics-text; version=1.0.0'] as const;

type Collected = { name: string };
/** What prom-client's registry reads of a metric (its typings do not say). */
type Readable = { name: string; type?: string; get(): Promise<Collected>; getForPromString?(): Promise<Collected> };

/**
 * The registry's metrics in OpenMetrics. prom-client renders OpenMetrics from a registry created for it, and on the
 * way strips `_total` from each counter's own `name` for good (a later text-format scrape would then lose the
 * suffix); so the OpenMetrics registry holds stand-ins that read the real metrics (collect runs on them as on any
 * scrape) and carry the family name OpenMetrics wants (a counter's without `_total`, which its samples keep).
 */
async function openMetrics(registry: Registry): Promise<string> {
  const om = new Registry<typeof OPENMETRICS_TYPE>();
  om.setContentType(OPENMETRICS_TYPE);
  for (const m of registry.getMetricsAsArray() as unknown as Readable[]) {
    const family = m.type === 'counter' ? m.name.replace(/_total$/, '') : m.name;
    const rename = (c: Collected) => ({ ...c, name: family });
    om.registerMetric({
      name: family,
      type: m.type,
      get: async () => rename(await m.get()),
      ...(m.getForPromString ? { getForPromString: async () => rename(await m.getForPromString!()) } : {}),
    } as unknown as Metric);
  }
  return om.metrics();
}

/** Render for an `Accept`-negotiated media type (one of OFFERED_TYPES, or false when none fit: text). */
export async function renderMetrics(registry: Registry, accepted: string | false): Promise<{ contentType: string; body: string }> {
  if (typeof accepted === 'string' && accepted.startsWith('application/openmetrics-text'))
    return { contentType: OPENMETRICS_TYPE, body: await openMetrics(registry) };
  return { contentType: TEXT_TYPE, body: await registry.metrics() };
}
