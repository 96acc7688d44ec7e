/**
 * Synthesizes every example app to CloudFormation under the five cdk-nag packs, in both handler placements, and
 * prints the report: each stack's resources, template size and the findings left unacknowledged (there must be none).
 *
 * Run: `npx projen examples` (or `npx ts-node examples/synth.ts [outdir]`). Exits non-zero on any finding.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { override } from './placement-override';
import { HandlerPlacement } from '../src';

// Inside this repository the examples import the package by name; resolve it to the working tree (through the
// module that can override the handler placement).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request: string, ...rest: unknown[]) {
  return resolve.call(this, request === 'cdk-aurora-restore-pipeline' ? path.join(__dirname, 'placement-override') : request, ...rest);
};

/** The examples, in the order of the README's table. */
export const EXAMPLES = ['same-region-defaults', 'cross-region-with-users', 'every-prop', 'cross-account'];

/** Both handler placements: each example is synthesized in each. */
export const PLACEMENTS = [HandlerPlacement.DATABASE_ONLY, HandlerPlacement.ALL_IN_VPC];

export interface ExampleReport {
  readonly example: string;
  readonly handlerPlacement: HandlerPlacement;
  readonly stack: string;
  readonly templateFile: string;
  readonly resources: number;
  readonly templateBytes: number;
  readonly findings: string[];
}

/** Synthesizes one example into `outdir` with its pipelines in `handlerPlacement`, with the five packs, and returns what it found. */
export function synthExample(example: string, outdir: string, handlerPlacement: HandlerPlacement): ExampleReport[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { build } = require(`./${example}`) as { build: (app: App) => { stackName: string; artifactId: string }[] };
  const app = new App({ outdir });
  const packs = [
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  ];
  Validations.of(app).addPlugins(...packs);
  override.handlerPlacement = handlerPlacement;
  let stacks;
  try {
    stacks = build(app);
  } finally {
    override.handlerPlacement = undefined;
  }
  const findings = packs.flatMap((pack) => pack.validateScope(app).violations
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`)));
  app.synth();
  return stacks.map((stack) => {
    const templateFile = path.join(outdir, `${stack.artifactId}.template.json`);
    const template = JSON.parse(fs.readFileSync(templateFile, 'utf8'));
    return {
      example,
      handlerPlacement,
      stack: stack.stackName,
      templateFile,
      resources: Object.keys(template.Resources).length,
      templateBytes: fs.statSync(templateFile).size,
      findings: findings.filter((f) => f.includes(` at ${stack.stackName}/`)),
    };
  });
}

if (require.main === module) {
  const root = process.argv[2] ?? path.join(__dirname, '..', 'cdk.out', 'examples');
  const packs = 'AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1';
  console.log(`cdk-nag report (${packs})\n`);
  let failed = 0;
  for (const example of EXAMPLES) {
    for (const placement of PLACEMENTS) {
      for (const r of synthExample(example, path.join(root, example, placement), placement)) {
        console.log(`${r.example.padEnd(24)} ${placement.padEnd(14)} stack ${r.stack.padEnd(15)} ${String(r.resources).padStart(4)} resources  ${(r.templateBytes / 1024).toFixed(0).padStart(4)} KiB  ${r.findings.length} unacknowledged findings`);
        console.log(`${''.padEnd(39)} template: ${path.relative(process.cwd(), r.templateFile)}`);
        for (const f of r.findings) console.log(`  ${f}`);
        failed += r.findings.length;
      }
    }
  }
  console.log(failed ? `\n${failed} unacknowledged findings` : '\nAll examples synthesized; no unacknowledged findings.');
  process.exit(failed ? 1 : 0);
}
