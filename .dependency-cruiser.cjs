// The layering of src/, checked in CI (`npm run lint:deps`): data flows AWS → sampler → cache → readers, the
// admission decision is pure, and only src/aws/ speaks to the AWS SDK.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle makes load order matter and hides which module owns a concept.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'only-aws-imports-the-sdk',
      severity: 'error',
      comment: 'Only src/aws/ holds AWS SDK clients and types; everything else goes through it.',
      from: { path: '^src/', pathNot: '^src/aws/' },
      to: { path: '@aws-sdk/' },
    },
    {
      name: 'admission-is-pure',
      severity: 'error',
      comment: 'The admission decision is pure policy: it knows no store, HTTP, AWS, metrics or sampler.',
      from: { path: '^src/admission/' },
      to: { path: '^src/(store|http|aws|metrics|sampler)/' },
    },
    {
      name: 'sim-speaks-wire-not-sdk',
      severity: 'error',
      comment: 'The simulator stands in for AWS over the wire: it shares record types with src/aws/, nothing else.',
      from: { path: '^src/sim/' },
      to: { path: '^src/aws/', pathNot: '^src/aws/types\\.ts$' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'src/cli.ts is the entry point; importing it would run it.',
      from: {},
      to: { path: '^src/cli\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
  },
};
