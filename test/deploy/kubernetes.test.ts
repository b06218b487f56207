// The kustomize base and example overlay, rendered by the real `kubectl kustomize` and checked as a cluster would
// read them; the generated PrometheusRule and dashboard ConfigMap are what the generator makes of their sources.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CLI } from '../helpers/paths.js';
import { execFileP, type PromRuleFile, readYaml, repoPath, requireBin, tempDir, which } from '../bundle/helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below
type Obj = Record<string, any>;

const KUBECTL = which('kubectl');
if (!KUBECTL) console.warn('test/deploy/kubernetes.test.ts: kubectl not on PATH; the kustomize rendering tests are skipped');

const ruleFiles = readdirSync(repoPath('prometheus', 'rules'))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const ruleGroups = ruleFiles.flatMap((f) => readYaml<PromRuleFile>('prometheus', 'rules', f).groups);
const dashboardJson = readFileSync(repoPath('grafana', 'dashboards', 'glue-eni.json'), 'utf8');
// The job name the rules and alerts match on (up{job="..."}): the ServiceMonitor must give the scrape this job.
const ruleJob = /up\{job="([^"]+)"\}/.exec(ruleFiles.map((f) => readFileSync(repoPath('prometheus', 'rules', f), 'utf8')).join('\n'))?.[1];
// The port the image listens on and exposes.
const imagePort = Number(/^EXPOSE (\d+)$/m.exec(readFileSync(repoPath('Dockerfile'), 'utf8'))?.[1]);

const tmp = tempDir('glue-eni-deploy');
afterAll(() => tmp.remove());

async function render(dir: string): Promise<Obj[]> {
  const { stdout } = await execFileP(KUBECTL!, ['kustomize', repoPath('deploy', 'kubernetes', dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => d.toJSON() as Obj);
}

const one = (objs: Obj[], kind: string, pred: (o: Obj) => boolean = () => true): Obj => {
  const found = objs.filter((o) => o.kind === kind && pred(o));
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
};
const subsetOf = (sel: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels?.[k] === v);

describe('kubernetes manifests: generated files', () => {
  it('scripts/gen-kubernetes.mjs regenerates exactly the committed PrometheusRule and dashboard ConfigMap', async () => {
    const out = join(tmp.path, 'generated');
    await execFileP(process.execPath, [repoPath('scripts', 'gen-kubernetes.mjs'), out]);
    for (const f of ['prometheusrule.yaml', 'dashboard-configmap.yaml']) {
      expect(readFileSync(join(out, f), 'utf8'), `deploy/kubernetes/base/${f} is stale: run npm run deploy:generate`).toBe(
        readFileSync(repoPath('deploy', 'kubernetes', 'base', f), 'utf8'),
      );
    }
  });
});

describe.skipIf(!KUBECTL)('kubernetes manifests rendered by kubectl kustomize (skipped when kubectl is not on PATH)', () => {
  const rendered: Record<'base' | 'overlay', Obj[]> = { base: [], overlay: [] };
  beforeAll(async () => {
    rendered.base = await render('base');
    rendered.overlay = await render(join('overlays', 'example'));
  }, 60_000);

  describe.each(['base', 'overlay'] as const)('%s', (variant) => {
    const objs = () => rendered[variant];
    const deployment = () => one(objs(), 'Deployment');
    const pod = () => deployment().spec.template.spec as Obj;
    const container = () => (pod().containers as Obj[]).find((c) => c.name === 'exporter')!;

    it('has the exporter, its Service, ServiceAccount, ServiceMonitor, PrometheusRule and two ConfigMaps', () => {
      expect(
        objs()
          .map((o) => o.kind as string)
          .sort(),
      ).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']);
      expect((pod().containers as Obj[]).map((c) => c.name)).toEqual(['exporter']);
    });

    it('runs as a non-root uid with a read-only root filesystem, no privilege escalation and no capabilities', () => {
      const p = pod().securityContext;
      expect(p.runAsNonRoot).toBe(true);
      // A named image user (node) cannot be checked against runAsNonRoot by the kubelet: the uid must be given.
      expect(Number.isInteger(p.runAsUser) && p.runAsUser > 0).toBe(true);
      const c = container().securityContext;
      expect(c.readOnlyRootFilesystem).toBe(true);
      expect(c.allowPrivilegeEscalation).toBe(false);
      expect(c.capabilities.drop).toEqual(['ALL']);
      expect(container().resources.requests.cpu).toBeTruthy();
      expect(container().resources.requests.memory).toBeTruthy();
      expect(container().resources.limits.memory).toBeTruthy();
    });

    it('probes /-/healthy (liveness) and /-/ready (readiness) on the port the exporter listens on', () => {
      const c = container();
      const port = (c.ports as Obj[]).find((p) => p.name === c.livenessProbe.httpGet.port);
      expect(port?.containerPort).toBe(imagePort);
      expect(c.livenessProbe.httpGet.path).toBe('/-/healthy');
      expect(c.readinessProbe.httpGet.path).toBe('/-/ready');
      expect(c.readinessProbe.httpGet.port).toBe(c.livenessProbe.httpGet.port);
      const args = c.args as string[];
      expect(args[0]).toBe('serve');
      expect(args[args.indexOf('--listen') + 1]).toBe(`0.0.0.0:${imagePort}`);
    });

    it('reads a valid config from the generated ConfigMap and keeps dataDir and /tmp on emptyDirs', async () => {
      const c = container();
      const args = c.args as string[];
      const configPath = args[args.indexOf('--config') + 1]!;
      const mounts = c.volumeMounts as Obj[];
      const volumes = pod().volumes as Obj[];
      const volumeAt = (path: string) => volumes.find((v) => v.name === mounts.find((m) => m.mountPath === path)?.name);
      const configMount = mounts.find((m) => configPath.startsWith(`${m.mountPath}/`))!;
      expect(configMount.readOnly).toBe(true);
      const configVolume = volumes.find((v) => v.name === configMount.name)!;
      // The hashed name kustomize gave the ConfigMap is the one the pod mounts.
      const cm = one(objs(), 'ConfigMap', (o) => o.metadata.name === configVolume.configMap.name);
      const text = cm.data[configPath.slice(configMount.mountPath.length + 1)] as string;
      const file = join(tmp.path, `${variant}-config.yml`);
      writeFileSync(file, text);
      const { stdout } = await execFileP(process.execPath, [CLI, 'check-config', file]);
      expect(stdout).toContain(': OK (');
      const dataDir = (parse(text) as Obj).dataDir as string;
      expect(volumeAt(dataDir)?.emptyDir, `dataDir ${dataDir} is an emptyDir`).toBeDefined();
      expect(volumeAt('/tmp')?.emptyDir, '/tmp is an emptyDir').toBeDefined();
    });

    it('ties Deployment, Service and ServiceMonitor together by labels and the named port', () => {
      const d = deployment();
      const svc = one(objs(), 'Service');
      const sm = one(objs(), 'ServiceMonitor');
      const podLabels = d.spec.template.metadata.labels;
      expect(subsetOf(d.spec.selector.matchLabels, podLabels)).toBe(true);
      expect(subsetOf(svc.spec.selector, podLabels)).toBe(true);
      const svcPort = (svc.spec.ports as Obj[])[0]!;
      expect((container().ports as Obj[]).map((p) => p.name)).toContain(svcPort.targetPort);
      expect(subsetOf(sm.spec.selector.matchLabels, svc.metadata.labels)).toBe(true);
      expect(sm.metadata.namespace).toBe(svc.metadata.namespace);
      expect((sm.spec.endpoints as Obj[]).map((e) => [e.port, e.path])).toEqual([[svcPort.name, '/metrics']]);
      // The rules match up{job="glue-eni-exporter"}: the job comes from the Service label jobLabel names.
      expect(ruleJob).toBeDefined();
      expect(svc.metadata.labels[sm.spec.jobLabel]).toBe(ruleJob);
    });

    it('runs under a ServiceAccount annotated with an IAM role for service accounts', () => {
      const sa = one(objs(), 'ServiceAccount');
      expect(pod().serviceAccountName).toBe(sa.metadata.name);
      expect(sa.metadata.annotations['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/);
    });

    it("ships a PrometheusRule whose groups are the rule files', and promtool accepts it once extracted", async () => {
      const rule = one(objs(), 'PrometheusRule');
      expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(rule.spec.groups).toEqual(ruleGroups);
      const file = join(tmp.path, `${variant}-prometheusrule.yml`);
      writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
      const { stdout } = await execFileP(requireBin('promtool'), ['check', 'rules', file]);
      expect(stdout).toContain('SUCCESS');
    });

    it("ships the dashboard as a ConfigMap for Grafana's sidecar, its JSON equal to the file", () => {
      const cm = one(objs(), 'ConfigMap', (o) => o.metadata.labels?.grafana_dashboard !== undefined);
      expect(cm.metadata.labels.grafana_dashboard).toBe('1');
      expect(cm.data['glue-eni.json']).toBe(dashboardJson);
    });
  });

  it('the overlay sets namespace, image, role and the Prometheus selector label, and replaces the config', () => {
    const objs = rendered.overlay;
    for (const o of objs) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('monitoring');
    const image = one(objs, 'Deployment').spec.template.spec.containers[0].image as string;
    expect(image).toMatch(/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/glue-eni-exporter:/);
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) expect(one(objs, kind).metadata.labels.release).toBe('kube-prometheus-stack');
    const configOf = (list: Obj[]) =>
      one(list, 'ConfigMap', (o) => String(o.metadata.name).startsWith('glue-eni-exporter-config-')).data['config.yml'];
    expect(configOf(objs)).toBe(readFileSync(repoPath('deploy', 'kubernetes', 'overlays', 'example', 'config.yml'), 'utf8'));
    expect(configOf(objs)).not.toBe(configOf(rendered.base));
  });
});
