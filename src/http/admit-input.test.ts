import { describe, expect, it } from 'vitest';
import { refusal as refuse } from '../../test/helpers/refusal.js';
import { parseAdmitRequest, type AdmitRequest } from './admit-input.js';

const refusal = (req: AdmitRequest) => refuse(() => parseAdmitRequest(req));

describe('parseAdmitRequest', () => {
  it('types the fields: ids as strings, workers as an integer from a number or decimal string', () => {
    expect(parseAdmitRequest({ subnet: 'critical', workers: ' 10 ', dag_run_id: 'run-1' })).toEqual({
      subnet: 'critical',
      workers: 10,
      dagRunId: 'run-1',
    });
    expect(parseAdmitRequest({ job: 'nightly', workers: '', dag_run_id: null })).toEqual({ job: 'nightly' });
    expect(parseAdmitRequest({ subnet: 's', workers: '1234567890123' }).workers).toBe(Number.MAX_SAFE_INTEGER);
    // The range depends on the subnet: admission refuses NaN with the subnet's usable count.
    expect(parseAdmitRequest({ subnet: 's', workers: '1.5' }).workers).toBeNaN();
    expect(parseAdmitRequest({ subnet: 's', workers: 2.5 }).workers).toBeNaN();
  });

  it('refuses subnet with job, naming both: a job stands for its subnet, so which one was meant is a guess', () => {
    const both = 'subnet and job both given: give one of them (a job stands for the subnet it lands in)';
    expect(refusal({ subnet: 'critical', job: 'nightly' })).toEqual({ status: 400, field: 'subnet', message: both });
    expect(refusal({ subnet: 'critical', job: 'nightly', workers: 3, dry_run: 'true' })).toEqual({ status: 400, field: 'subnet', message: both });
    expect(parseAdmitRequest({ job: 'nightly' })).toEqual({ job: 'nightly' });
  });

  it('names the first bad field, in the order subnet, job, dag_run_id, then the missing subnet', () => {
    expect(refusal({ subnet: 5, job: 7 })).toEqual({ status: 400, field: 'subnet', message: 'subnet must be a string' });
    expect(refusal({ subnet: 'a', job: 'x'.repeat(129) })).toEqual({ status: 400, field: 'job', message: 'job must be at most 128 characters' });
    expect(refusal({ subnet: 'a', dag_run_id: 'a\nb' })).toEqual({
      status: 400,
      field: 'dag_run_id',
      message: 'dag_run_id must not contain control characters',
    });
    expect(refusal({ workers: 'x', dag_run_id: 'y'.repeat(251) })).toEqual({
      status: 400,
      field: 'dag_run_id',
      message: 'dag_run_id must be at most 250 characters',
    });
    expect(refusal({ workers: 3 })).toEqual({
      status: 400,
      field: 'subnet',
      message: 'subnet is required (a subnet id or configured name), or job (a Glue job name)',
    });
  });

  it('takes account (12 digits) and region (an AWS region) as given, and refuses other values naming the parameter', () => {
    expect(parseAdmitRequest({ job: 'etl', account: '011111111111', region: 'us-gov-west-1' })).toEqual({
      job: 'etl',
      account: '011111111111',
      region: 'us-gov-west-1',
    });
    expect(parseAdmitRequest({ subnet: 's', account: '', region: null })).toEqual({ subnet: 's' });
    const account = { status: 400, field: 'account', message: 'account must be a 12-digit AWS account id, e.g. 111111111111' };
    for (const bad of ['11111111111', '1111111111111', 'prod', 111111111111, ' 111111111111']) {
      expect(refusal({ subnet: 's', account: bad })).toEqual(account);
    }
    const region = { status: 400, field: 'region', message: 'region must be an AWS region, e.g. eu-west-1' };
    for (const bad of ['EU-WEST-1', 'eu-west', 'europe', 'eu-west-1\n', 5]) {
      expect(refusal({ subnet: 's', region: bad })).toEqual(region);
    }
  });
});
