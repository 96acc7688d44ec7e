/**
 * TypeScript consumer: a fresh npm app installs the packed tarball (dist/js) with aws-cdk-lib and constructs
 * from the npm registry, compiles example (a) unchanged with tsc and runs it. Checks the template, that every
 * function's code was staged from the package's `assets/` inside node_modules, and that the staged bundles are
 * the package's bundles.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkExampleA, ConsumerContext, ConsumerError, ConsumerResult, copyInto, devDependencyVersion, DIST, REPO, run, sha256, singleArtifact } from './lib';
import { HANDLER_SPECS, SDK_LAYER_ASSET } from '../../src/handlers';

const PACKAGE = 'cdk-aurora-restore-pipeline';

/** Lists the asset stagings of example (a)'s stack: where each asset was read from. */
const STAGING_PROBE = `import { App, AssetStaging } from 'aws-cdk-lib';
import { build } from './same-region-defaults';

const app = new App({ outdir: process.argv[2] });
build(app);
const staged = app.node.findAll().filter((c): c is AssetStaging => c instanceof AssetStaging);
console.log(JSON.stringify(staged.map((s) => ({ path: s.node.path, sourcePath: s.sourcePath }))));
`;

/**
 * The README's cdk-nag app (examples/with-cdk-nag.ts: example (a), the five packs registered through Validations,
 * a role granted `grantStartExecution` and its inline policy acknowledged), plus a cross-region default stack;
 * synth throws on unacknowledged errors. Prints what the five packs still report (must be nothing), and two
 * controls that must be reported: an unencrypted queue, and the same grant without the acknowledgement.
 */
const NAG_PROBE = `import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { AuroraRestorePipeline } from '${PACKAGE}';
import { StagingRefreshStack } from './same-region-defaults';
import { build } from './with-cdk-nag';

const packs = (app: App) => [new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app)];
const findings = (app: App) => packs(app).flatMap((p) => p.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => v.ruleName + ' ' + r.constructPath)));

const app = new App({ outdir: process.argv[2] });
build(app);
const dr = new Stack(app, 'CrossRegionDefaults', { env: { account: '123456789012', region: 'eu-west-1' } });
new AuroraRestorePipeline(dr, 'Restore', {
  sourceClusterIdentifier: 'prod-aurora',
  targetClusterIdentifier: 'dr-aurora',
  sourceRegion: 'us-east-1',
  vpc: ec2.Vpc.fromVpcAttributes(dr, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0aaaaaaaaaaaaaaa2'],
  }),
});
app.synth();
const violations = findings(app);

// Controls: the same packs in this app report what is not acknowledged.
const control = new App();
const stack = new StagingRefreshStack(control, 'Control', { env: { account: '123456789012', region: 'eu-west-1' } });
stack.pipeline.grantStartExecution(new iam.Role(stack, 'SchedulerRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') }));
new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
const controlFindings = findings(control);
console.log(JSON.stringify({ packs: packs(app).length, violations, controlFindings }));
`;

function installedVersion(name: string): string {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
}

export function consumeTypescript(ctx: ConsumerContext): ConsumerResult {
  const tarball = singleArtifact(path.join(DIST, 'js'), /\.tgz$/);
  const app = path.join(ctx.dir, 'app');
  const logFile = path.join(ctx.dir, 'typescript.log');
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'staging-refresh', version: '0.1.0', private: true }, null, 2));
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: true, types: ['node'], outDir: 'build' },
    include: ['*.ts'],
  }, null, 2));
  copyInto(path.join(REPO, 'examples', 'same-region-defaults.ts'), app);
  copyInto(path.join(REPO, 'examples', 'with-cdk-nag.ts'), app);
  fs.writeFileSync(path.join(app, 'staging-probe.ts'), STAGING_PROBE);
  fs.writeFileSync(path.join(app, 'nag-probe.ts'), NAG_PROBE);

  const cdk = devDependencyVersion('aws-cdk-lib');
  const constructs = devDependencyVersion('constructs');
  ctx.log(`npm install ${path.relative(REPO, tarball)} aws-cdk-lib@${cdk} constructs@${constructs}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, `aws-cdk-lib@${cdk}`, `constructs@${constructs}`,
    `typescript@${installedVersion('typescript')}`, `@types/node@${installedVersion('@types/node')}`, `cdk-nag@${installedVersion('cdk-nag')}`], { cwd: app, logFile });

  ctx.log('tsc, then node same-region-defaults.js');
  run('npx', ['tsc', '-p', '.'], { cwd: app, logFile });
  const outdir = path.join(ctx.dir, 'cdk.out');
  run('node', [path.join('build', 'same-region-defaults.js')], { cwd: app, logFile, env: { CDK_OUTDIR: outdir } });
  const { resources, bundles } = checkExampleA(outdir);

  // Code.fromAsset(path.join(__dirname, '..', 'assets', name)) must resolve inside the installed package.
  const installed = fs.realpathSync(path.join(app, 'node_modules', PACKAGE));
  const probe = run('node', [path.join('build', 'staging-probe.js'), path.join(ctx.dir, 'probe.out')], { cwd: app, logFile });
  const staged: { path: string; sourcePath: string }[] = JSON.parse(probe.stdout.trim().split('\n').pop() ?? '[]');
  const outside = staged.filter((s) => !fs.realpathSync(s.sourcePath).startsWith(path.join(installed, 'assets') + path.sep));
  // One asset per function, and the SDK layer.
  if (staged.length !== HANDLER_SPECS.length + 1 || outside.length) {
    throw new ConsumerError(`expected ${HANDLER_SPECS.length + 1} assets (the bundles and the SDK layer) staged from ${installed}/assets/, found ${staged.length}`
      + (outside.length ? `; read from elsewhere: ${outside.map((s) => `${s.path} <- ${s.sourcePath}`).join(', ')}` : ''), logFile);
  }
  const bundleDirs = fs.readdirSync(path.join(installed, 'assets')).filter((d) => d !== SDK_LAYER_ASSET);
  const packaged = new Set(bundleDirs.map((d) => sha256(path.join(installed, 'assets', d, 'index.js'))));
  const foreign = [...bundles].filter(([, bundle]) => !packaged.has(sha256(bundle))).map(([id]) => id);
  if (packaged.size !== HANDLER_SPECS.length || foreign.length) {
    throw new ConsumerError(`the staged code is not the package's: ${packaged.size} bundles in the package, functions with other code: ${foreign.join(', ') || 'none'}`, logFile);
  }

  // The acknowledgements must work from the compiled package: five packs, zero findings, synth does not throw.
  ctx.log(`cdk-nag ${installedVersion('cdk-nag')}: the README's app (examples/with-cdk-nag.ts) and a cross-region default stack under five packs`);
  run('node', [path.join('build', 'with-cdk-nag.js')], { cwd: app, logFile, env: { CDK_OUTDIR: path.join(ctx.dir, 'nag-app.out') } });
  const nag = run('node', [path.join('build', 'nag-probe.js'), path.join(ctx.dir, 'nag.out')], { cwd: app, logFile });
  const report: { packs: number; violations: string[]; controlFindings: string[] } = JSON.parse(nag.stdout.trim().split('\n').pop() ?? '{}');
  const expectedControl = ['AwsSolutions-SQS4', ...['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].map((p) => `${p}-IAMNoInlinePolicy Control/SchedulerRole/DefaultPolicy/Resource`)];
  const unreported = expectedControl.filter((c) => !report.controlFindings?.some((f) => f.startsWith(c)));
  if (unreported.length) {
    throw new ConsumerError(`cdk-nag did not report the controls ${unreported.join(', ')} (it reported ${report.controlFindings?.join(', ')}): the packs are not running`, logFile);
  }
  if (report.packs !== 5 || report.violations.length) {
    throw new ConsumerError(`cdk-nag reported ${report.violations?.length} unacknowledged findings: ${report.violations?.slice(0, 10).join('; ')}`, logFile);
  }

  return {
    status: 'pass',
    summary: `aws-cdk-lib ${cdk}: ${resources} resources, ${HANDLER_SPECS.length} functions whose code (and SDK layer) is staged from node_modules/${PACKAGE}/assets/ and equals the package's bundles; `
      + 'no cdk-nag finding under five packs (the README\'s app with a granted role, and a cross-region default stack)',
    outdir,
  };
}
