// The AWS SDK client packages, loaded with require(). They are single large CommonJS bundles; importing them
// through Node's ESM loader (which lexes each for its named exports) leaves ~30 MB more resident memory than
// require() does (docs/benchmarks.md, "Where the RSS goes"). Types still come from `import type`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type Ec2Sdk = typeof import('@aws-sdk/client-ec2');
export type GlueSdk = typeof import('@aws-sdk/client-glue');
export type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');
export type CredentialProvidersSdk = typeof import('@aws-sdk/credential-providers');
/** The DynamoDB types the store names, so that only src/aws/ imports the SDK. */
export type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const ec2Sdk = (): Ec2Sdk => require('@aws-sdk/client-ec2') as Ec2Sdk;
export const glueSdk = (): GlueSdk => require('@aws-sdk/client-glue') as GlueSdk;
/** Loaded on first use only: a file-store exporter never needs it. */
export const dynamoDbSdk = (): DynamoDbSdk => require('@aws-sdk/client-dynamodb') as DynamoDbSdk;
/** Loaded when a target names a role: the default chain never needs it. */
export const credentialProvidersSdk = (): CredentialProvidersSdk => require('@aws-sdk/credential-providers') as CredentialProvidersSdk;
