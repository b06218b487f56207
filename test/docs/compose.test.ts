// The compose demo reaches the runbook's AWS CLI steps (the simulator's port published), and the real-AWS
// override mounts ~/.aws read-only: both as docker-compose itself resolves the files (no Docker engine needed).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../helpers/paths.js';

const execFileP = promisify(execFile);

interface Resolved {
  services: { exporter: { command: string[]; environment: Record<string, string | null>; ports: unknown[]; volumes: string[] } };
}

async function resolved(files: string[]): Promise<Resolved> {
  const args = files.flatMap((f) => ['-f', f]);
  const { stdout } = await execFileP('docker-compose', [...args, 'config'], {
    cwd: ROOT,
    env: { ...process.env, HOME: '/home/someone', GLUE_ENI_MODE: '' },
    timeout: 30_000,
  });
  return parse(stdout) as Resolved;
}

describe('docker-compose', () => {
  it('the demo publishes the simulator on 127.0.0.1:4566 and serves it there', async () => {
    const { exporter } = (await resolved(['docker-compose.yml'])).services;
    expect(exporter.command.join('\n')).toMatch(/demo\) exec node dist\/cli\.js demo --listen 0\.0\.0\.0:9858 --sim-listen 0\.0\.0\.0:4566/);
    expect(JSON.stringify(exporter.ports)).toMatch(/127\.0\.0\.1.*4566.*4566|4566.*127\.0\.0\.1/);
    expect(exporter.environment.GLUE_ENI_MODE).toBe('demo');
    expect(exporter.volumes.join('\n')).not.toContain('.aws');
  });

  it('docker-compose.aws.yml switches to real AWS and mounts ~/.aws read-only in the image user home', async () => {
    const { exporter } = (await resolved(['docker-compose.yml', 'docker-compose.aws.yml'])).services;
    expect(exporter.environment.GLUE_ENI_MODE).toBe('aws');
    expect(exporter.environment.HOME).toBe('/home/node');
    expect(exporter.volumes).toContain('/home/someone/.aws:/home/node/.aws:ro');
  });
});
