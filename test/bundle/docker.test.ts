// docker-compose.yml validated by docker-compose itself; the Dockerfile linted for what the image must have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { execFileP, repoPath, which } from './helpers.js';

const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
const compose = parse(readFileSync(repoPath('docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image?: string; build?: unknown; volumes?: string[]; environment?: Record<string, unknown>; command?: unknown }>;
};
const composeBin = which('docker-compose');

describe('docker-compose.yml', () => {
  it('passes `docker-compose config -q` (no Docker engine needed)', async () => {
    if (!composeBin) throw new Error('docker-compose not on PATH: run scripts/install-monitoring-deps.sh');
    const { stdout, stderr } = await execFileP(composeBin!, ['-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: repoPath(),
      // A clean environment: the file must not depend on variables being set.
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    expect(stdout).toBe('');
    expect(stderr).not.toMatch(/error/i);
  });

  it('runs exporter, Prometheus, Alertmanager and Grafana with images pinned by exact tags and the bundle mounted', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'exporter', 'grafana', 'prometheus']);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.build) continue;
      expect(svc.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
    const vols = (s: string) => (compose.services[s]!.volumes ?? []).join('\n');
    expect(vols('prometheus')).toContain('./prometheus:/etc/prometheus');
    expect(vols('alertmanager')).toContain('./alertmanager:/etc/alertmanager');
    expect(vols('grafana')).toContain('./grafana/provisioning:/etc/grafana/provisioning');
    expect(vols('grafana')).toContain('./grafana/dashboards:/etc/grafana/dashboards');
    expect(compose.services.grafana!.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe('/etc/grafana/dashboards/glue-eni.json');
    expect(compose.services.exporter!.environment?.GLUE_ENI_MODE).toBe('${GLUE_ENI_MODE:-demo}');
    expect(JSON.stringify(compose.services.exporter!.command)).toMatch(/demo\).*demo --listen 0\.0\.0\.0:9858[\s\S]*aws\).*serve --config/);
    expect(JSON.stringify(compose.services.alertmanager!.command)).toContain('render-config.sh');
  });
});

describe('Dockerfile', () => {
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];

  it('is multi-stage on an exactly pinned Node LTS image', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const [, image] of froms) expect(image).toMatch(/^node:(20|22|24)\.\d+\.\d+-bookworm-slim$/);
    expect(dockerfile).toMatch(/RUN npm ci[^\n]*\n(?:.*\n)*?RUN npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist/);
  });

  it('runs as USER node with a HEALTHCHECK on /-/healthy, EXPOSE and the demo as default command', () => {
    const finalStage = dockerfile.slice(froms.at(-1)!.index);
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(/^HEALTHCHECK .*\n?.*fetch\('http:\/\/127\.0\.0\.1:9858\/-\/healthy'\)/m);
    expect(finalStage).toMatch(/^EXPOSE 9858$/m);
    expect(finalStage).toMatch(/^CMD \["demo", "--listen", "0\.0\.0\.0:9858"\]$/m);
    expect(finalStage).toMatch(/^ENTRYPOINT \["node", "dist\/cli\.js"\]$/m);
  });

  it('.dockerignore keeps node_modules, local data and secrets out of the build context', () => {
    const ignore = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n');
    for (const e of ['node_modules', 'dist', 'data', '.git', '.env']) expect(ignore).toContain(e);
  });
});

describe('scripts/install-monitoring-deps.sh', () => {
  it('is valid bash and silent when everything is installed', async () => {
    await execFileP('bash', ['-n', repoPath('scripts', 'install-monitoring-deps.sh')]);
    const all = ['prometheus', 'promtool', 'prometheus-alertmanager', 'amtool', 'docker-compose'].every((b) => which(b));
    if (!all) return; // would install: only the syntax check applies here
    const { stdout, stderr } = await execFileP('bash', [repoPath('scripts', 'install-monitoring-deps.sh')]);
    expect(stdout + stderr).toBe('');
  });
});
