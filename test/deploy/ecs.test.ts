// deploy/ecs/task-definition.json: its shape, and its container command and health check run for real (sh and node,
// as in the image) against the simulator: GLUE_ENI_MODE chooses real AWS (serve) or the demo, and refuses the rest.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileP, type Proc, repoPath, startProc } from '../bundle/helpers.js';
import { freePort, rawRequest, simFixture, waitFor } from '../hardening/helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: the task definition is checked field by field below
type Obj = Record<string, any>;

const taskDef = JSON.parse(readFileSync(repoPath('deploy', 'ecs', 'task-definition.json'), 'utf8')) as Obj;
const container = (taskDef.containerDefinitions as Obj[])[0]!;
const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8');
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
const runtimeImage = /^FROM\s+(\S+)/m.exec(runtimeStage)![1]!;
const imagePort = Number(/^EXPOSE (\d+)$/m.exec(runtimeStage)?.[1]);
const IMAGE_LISTEN = `0.0.0.0:${imagePort}`;
const IMAGE_HEALTH_URL = `http://127.0.0.1:${imagePort}/`;
const ARN = (service: string) => new RegExp(`^arn:aws:${service}:[a-z0-9-]*:\\d{12}:.+$`);

describe('ECS task definition: shape', () => {
  it('is a Fargate task with task and execution roles (placeholder ARNs) and one essential exporter container', () => {
    expect(taskDef.family).toBe('glue-eni-exporter');
    expect(taskDef.requiresCompatibilities).toEqual(['FARGATE']);
    expect(taskDef.networkMode).toBe('awsvpc');
    expect(taskDef.taskRoleArn).toMatch(ARN('iam'));
    expect(taskDef.executionRoleArn).toMatch(ARN('iam'));
    expect(taskDef.taskRoleArn).not.toBe(taskDef.executionRoleArn);
    expect(taskDef.containerDefinitions).toHaveLength(1);
    expect(container.essential).toBe(true);
    expect(container.image).toMatch(/glue-eni-exporter:/);
  });

  it("maps the image's exposed port", () => {
    expect(imagePort).toBeGreaterThan(0);
    expect(container.portMappings).toEqual([expect.objectContaining({ containerPort: imagePort, protocol: 'tcp' })]);
  });

  it('checks /-/healthy with node, which the runtime image has (it has no curl or wget), as the Dockerfile does', () => {
    expect(runtimeImage).toMatch(/^node:[\w.-]+$/);
    const [form, bin, ...args] = container.healthCheck.command as string[];
    expect(form).toBe('CMD');
    expect(bin).toBe('node');
    expect(args.join(' ')).toContain(`${IMAGE_HEALTH_URL}-/healthy`);
    const dockerHealth = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(runtimeStage)?.[1];
    expect(JSON.parse(dockerHealth!)).toEqual([bin, ...args]);
    expect(container.healthCheck).toMatchObject({ interval: expect.any(Number), timeout: expect.any(Number), retries: expect.any(Number) });
  });

  it('logs to CloudWatch Logs with awslogs', () => {
    expect(container.logConfiguration.logDriver).toBe('awslogs');
    for (const o of ['awslogs-group', 'awslogs-region', 'awslogs-stream-prefix']) expect(container.logConfiguration.options[o], o).toBeTruthy();
  });

  it('has a read-only root filesystem with task volumes for dataDir (/app/data, owned by the image user) and /tmp', () => {
    expect(container.readonlyRootFilesystem).toBe(true);
    const volumes = new Set((taskDef.volumes as Obj[]).map((v) => v.name));
    const mounts = container.mountPoints as Obj[];
    for (const m of mounts) expect(volumes.has(m.sourceVolume), m.sourceVolume).toBe(true);
    expect(mounts.map((m) => m.containerPath).sort()).toEqual(['/app/data', '/tmp']);
    expect(mounts.every((m) => m.readOnly === false)).toBe(true);
    // Fargate gives a bind mount the image directory's owner: the Dockerfile must make /app/data the user's.
    expect(runtimeStage).toMatch(/chown node:node \/app\/data/);
    expect(runtimeStage).toMatch(/^WORKDIR \/app$/m);
  });

  it('takes the config and the /admit token from secrets, and runs in real-AWS mode', () => {
    const env = Object.fromEntries((container.environment as Obj[]).map((e) => [e.name, e.value]));
    expect(env.GLUE_ENI_MODE).toBe('aws');
    const secrets = Object.fromEntries((container.secrets as Obj[]).map((s) => [s.name, s.valueFrom]));
    expect(secrets.GLUE_ENI_CONFIG).toMatch(ARN('ssm'));
    expect(secrets.GLUE_ENI_ADMIT_TOKEN).toMatch(ARN('secretsmanager'));
    expect(container.entryPoint).toEqual(['/bin/sh', '-c']);
    expect(container.command).toHaveLength(1);
  });
});

describe('ECS task definition: the container command and health check, run', () => {
  const f = simFixture('glue-eni-ecs');
  let procs: Proc[] = [];
  afterEach(async () => {
    for (const p of procs) await p.stop();
    procs = [];
  });

  // The image's layout in a temp dir: WORKDIR with dist/ and the data volume.
  const workdir = (name: string) => {
    const dir = join(f.dir, name);
    mkdirSync(join(dir, 'data'), { recursive: true });
    symlinkSync(repoPath('dist'), join(dir, 'dist'));
    return dir;
  };
  const script = (port: number) => {
    const s = container.command[0] as string;
    expect(s).toContain(IMAGE_LISTEN);
    return s.replaceAll(IMAGE_LISTEN, `127.0.0.1:${port}`);
  };
  /** The task definition's health check command, pointed at `port`: its exit code. */
  const healthCheck = async (port: number): Promise<number> => {
    const [, bin, ...args] = container.healthCheck.command as string[];
    const pointed = args.map((a) => a.replaceAll(IMAGE_HEALTH_URL, `http://127.0.0.1:${port}/`));
    expect(pointed).not.toEqual(args);
    return execFileP(bin === 'node' ? process.execPath : bin!, pointed, { timeout: 10_000 }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
  };
  const run = (dir: string, port: number, env: NodeJS.ProcessEnv) => {
    const p = startProc('/bin/sh', ['-c', script(port)], { cwd: dir, env: { ...process.env, ...env } });
    procs.push(p);
    return p;
  };
  const exitOf = (p: Proc) =>
    new Promise<number | null>((r) => (p.child.exitCode !== null ? r(p.child.exitCode) : p.child.once('exit', (c) => r(c))));

  it('GLUE_ENI_MODE=aws writes GLUE_ENI_CONFIG to data/config.yml and serves it; the health check passes, then fails once stopped', async () => {
    const dir = workdir('aws');
    const config = readFileSync(f.config('ecs', { dataDir: join(dir, 'data') }), 'utf8');
    const port = await freePort();
    const p = run(dir, port, { GLUE_ENI_MODE: 'aws', GLUE_ENI_CONFIG: config });
    const ready = await waitFor(
      'ready on the simulator',
      async () => {
        if (p.child.exitCode !== null) return 'exited' as const;
        return (
          (await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path: '/-/ready' }, 2_000).catch(() => undefined))?.status === 200 ||
          undefined
        );
      },
      20_000,
    );
    expect(ready, `exited before it was ready: ${p.output().slice(-800)}`).toBe(true);
    expect(readFileSync(join(dir, 'data', 'config.yml'), 'utf8')).toBe(`${config}\n`);
    const subnets = await rawRequest(`http://127.0.0.1:${port}`, { method: 'GET', path: '/api/subnets' });
    expect(subnets.text).toContain('critical');
    expect(await healthCheck(port)).toBe(0);
    await p.stop();
    expect(await healthCheck(port)).toBe(1);
  }, 40_000);

  it('GLUE_ENI_MODE=demo runs the embedded simulator; the health check passes', async () => {
    const port = await freePort();
    const p = run(workdir('demo'), port, { GLUE_ENI_MODE: 'demo' });
    const healthy = await waitFor(
      'healthy',
      async () => (p.child.exitCode !== null ? 'exited' : (await healthCheck(port)) === 0 || undefined),
      20_000,
      200,
    );
    expect(healthy, `exited before it was healthy: ${p.output().slice(-800)}`).toBe(true);
  }, 40_000);

  it.each([
    ['an unknown mode', { GLUE_ENI_MODE: 'prod' }, /GLUE_ENI_MODE: expected demo or aws, got 'prod'/],
    ['no mode', { GLUE_ENI_MODE: '' }, /GLUE_ENI_MODE: expected demo or aws, got ''/],
    ['aws without a config', { GLUE_ENI_MODE: 'aws', GLUE_ENI_CONFIG: '' }, /GLUE_ENI_CONFIG: empty/],
  ])('refuses %s with exit 64, naming the variable', async (_what, env, message) => {
    const p = run(workdir(`refused-${env.GLUE_ENI_MODE || 'none'}`), await freePort(), env);
    expect(await exitOf(p)).toBe(64);
    expect(p.output()).toMatch(message);
  });
});
