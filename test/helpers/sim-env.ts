// Dummy credentials for the SDK against the simulator or nock; no real AWS is ever reached.
export const SIM_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDHARDENINGTEST',
  AWS_SECRET_ACCESS_KEY: 'hardening/secret/not-a-real-key',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** For the whole file: SDK clients in this process, and children spawned with process.env, find these. */
export function useSimCredentials(): void {
  Object.assign(process.env, SIM_ENV);
}
