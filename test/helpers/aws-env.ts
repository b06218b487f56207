// For tests of the AWS clients against nock: no real network, and an AWS environment of the test's own
// (the machine's AWS_* variables, profiles or instance metadata must never leak in), restored afterwards.
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

const AWS_ENV_KEYS = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_EC2',
  'AWS_ENDPOINT_URL_GLUE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_EC2_METADATA_DISABLED',
];

/** Registers the hooks: each test starts with example credentials and nothing else from AWS_*. */
export function isolatedAwsEnvironment(): void {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const k of AWS_ENV_KEYS) saved[k] = process.env[k];
    nock.disableNetConnect();
  });
  beforeEach(() => {
    for (const k of AWS_ENV_KEYS) delete process.env[k];
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
    for (const k of AWS_ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
}
