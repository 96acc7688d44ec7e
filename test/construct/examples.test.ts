import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EXAMPLES, PLACEMENTS, synthExample } from '../../examples/synth';
import { connectsToDatabase, HANDLER_SPECS } from '../../src/handlers';
import { ensureVenv, venvBin } from '../support/venv';

jest.setTimeout(15 * 60 * 1000);

describe('examples', () => {
  // aws-cdk-lib's check of the templates against the CloudFormation schemas (off in the other test files: see
  // test/setup/cdk-validation.ts): on here, beside cdk-nag and cfn-lint.
  beforeAll(() => {
    process.env.CDK_VALIDATION = 'true';
  });
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'examples-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test.each(EXAMPLES.flatMap((example) => PLACEMENTS.map((placement) => [example, placement] as const)))('%s, %s: synthesizes with no unacknowledged cdk-nag finding and passes cfn-lint', (example, placement) => {
    const reports = synthExample(example, path.join(outdir, example, placement), placement);
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) {
      expect(r.findings).toEqual([]);
      const template = JSON.parse(fs.readFileSync(r.templateFile, 'utf8'));
      const functions = Object.values(template.Resources).filter((x: any) => x.Type === 'AWS::Lambda::Function') as any[];
      // A pipeline's stack has every handler; the source account's stack of the cross-account example has none.
      const pipelines = Object.values(template.Resources).filter((x: any) => x.Type === 'AWS::StepFunctions::StateMachine').length;
      expect(functions).toHaveLength(pipelines * HANDLER_SPECS.length);
      // The placement really applied: the database functions in the VPC, or all of them.
      expect(functions.filter((f) => f.Properties.VpcConfig).length)
        .toBe(pipelines * (placement === 'ALL_IN_VPC' ? HANDLER_SPECS.length : HANDLER_SPECS.filter(connectsToDatabase).length));

      const python = ensureVenv();
      const cfnLint = venvBin(path.dirname(path.dirname(python)), 'cfn-lint');
      let output = '';
      try {
        // W3005 only notes that the CDK writes a DependsOn next to a GetAtt of the same resource (how CDK orders a
        // function after its role's policy); every other error and warning counts.
        output = execFileSync(cfnLint, ['--format', 'parseable', '--ignore-checks', 'W3005', '--', r.templateFile], { encoding: 'utf8' });
      } catch (e) {
        output = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
      }
      expect(output.trim()).toBe('');
    }
  });
});

// What the examples' comments and the README tell a user to run: the CDK CLI with examples/cdk.json.
test('`cdk synth` in examples/ (cdk.json) writes a cloud assembly with example (a)\'s stack', () => {
  const examples = path.join(__dirname, '..', '..', 'examples');
  expect(JSON.parse(fs.readFileSync(path.join(examples, 'cdk.json'), 'utf8')).app).toContain('app.ts');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'examples-cdk-synth-'));
  try {
    const cdk = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'cdk');
    const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' };
    execFileSync(cdk, ['synth', '--quiet', '--no-notices', '--output', out], { cwd: examples, env, stdio: 'pipe' });
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).toContain('StagingRefresh');
    const template = JSON.parse(fs.readFileSync(path.join(out, 'StagingRefresh.template.json'), 'utf8'));
    expect(Object.values(template.Resources).filter((x: any) => x.Type === 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

// The TypeScript consumer (test/consumers/typescript.ts) runs examples/with-cdk-nag.ts from the packed tarball:
// the README must show that file's code, not a variant of it.
test('the README\'s cdk-nag snippet is the code of examples/with-cdk-nag.ts', () => {
  const root = path.join(__dirname, '..', '..');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const snippet = /### Compliance checks with cdk-nag[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(snippet).toContain('grantStartExecution(schedulerRole)');
  const example = fs.readFileSync(path.join(root, 'examples', 'with-cdk-nag.ts'), 'utf8').split('\n').map((l) => l.replace(/^ {2}/, '')).join('\n');
  expect(example).toContain(snippet);
});

// Example (e) passes nothing between its two stacks: the pipeline's account computes the role and key alias names
// the companion gives them. If the two sides ever spelled them differently, the pipeline could not assume the role.
test('example (e): the pipeline assumes exactly the role AuroraRestoreSource creates, and copies into its key alias', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { build } = require('../../examples/cross-account') as typeof import('../../examples/cross-account');
  const app = new App();
  const [source, pipeline] = build(app);
  const sourceTemplate = Template.fromStack(source);
  const pipelineTemplate = Template.fromStack(pipeline);
  const names = Object.values(sourceTemplate.findResources('AWS::IAM::Role')).map((r: any) => r.Properties.RoleName).filter(Boolean);
  expect(names).toHaveLength(1);
  const alias = Object.values(sourceTemplate.findResources('AWS::KMS::Alias')).map((a: any) => a.Properties.AliasName);
  expect(alias).toEqual([`alias/${names[0]}`]);

  const statements = ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']
    .flatMap((type) => Object.values(pipelineTemplate.findResources(type)))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
  const assumed = new Set(statements.filter((s: any) => s.Action === 'sts:AssumeRole').map((s: any) => JSON.stringify(pipeline.resolve(s.Resource))));
  expect([...assumed]).toEqual([JSON.stringify({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::111111111111:role/${names[0]}`]] })]);
  const config = JSON.stringify(pipelineTemplate.toJSON());
  expect(config).toContain(`:kms:eu-west-1:111111111111:${alias[0]}`);
});
