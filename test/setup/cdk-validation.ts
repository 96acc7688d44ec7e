/*
 * aws-cdk-lib checks every synthesized template against the CloudFormation resource schemas (a WebAssembly
 * validator: about 40 % of the CPU of a test file that synthesizes stacks). Most test files synthesize to read the
 * template's resources or to run the state machine; test/construct/examples.test.ts, which passes every example and
 * placement through cdk-nag and cfn-lint, turns the check back on. Set here for each test file, as a worker runs
 * several of them in one process.
 */
process.env.CDK_VALIDATION = 'false';
