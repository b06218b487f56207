import { test } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
const pexec = promisify(execFile);
import { startSimulator } from './index.js';
test('cli', async () => {
  const sim = await startSimulator({ scenario: 'scenarios/seed-shared.yml', speed: 0, startAt: '2026-04-08T07:03:00Z' });
  const env = { ...process.env, AWS_ENDPOINT_URL: sim.url, AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_PAGER: '' };
  const run = async (...a: string[]) => { try { return (await pexec('aws', a, { env, encoding: 'utf8', timeout: 20000 })).stdout; } catch (e) { return 'ERR ' + (e as any).stderr; } };
  console.log(await run('ec2', 'describe-network-interfaces', '--filters', 'Name=subnet-id,Values=subnet-0a1', '--query', 'NetworkInterfaces[*].Status', '--output', 'text'));
  console.log(await run('ec2', 'describe-network-interfaces', '--max-items', '1', '--page-size', '5'));
  console.log(await run('ec2', 'describe-subnets', '--output', 'json'));
  console.log(await run('glue', 'get-job-runs', '--job-name', 'product-metrics-daily', '--max-results', '3', '--query', 'JobRuns[*].[Id, JobRunState, StartedOn, CompletedOn, ErrorMessage]', '--output', 'table'));
  console.log(await run('ec2', 'delete-network-interface', '--network-interface-id', sim.world.networkInterfaces().find(e => e.Status === 'in-use' && e.RequesterManaged)!.NetworkInterfaceId));
  console.log(await run('glue', 'get-connections', '--query', "ConnectionList[?contains(PhysicalConnectionRequirements.SubnetId, 'subnet-0a1')].Name"));
  await sim.close();
}, 60000);
