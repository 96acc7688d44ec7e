import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXAMPLES, PLACEMENTS, synthExample } from '../../examples/synth';
import { ensureVenv, venvBin } from '../support/venv';

jest.setTimeout(15 * 60 * 1000);

describe('examples', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'examples-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test.each(EXAMPLES.flatMap((example) => PLACEMENTS.map((placement) => [example, placement] as const)))('%s, %s: synthesizes with no unacknowledged cdk-nag finding and passes cfn-lint', (example, placement) => {
    const reports = synthExample(example, path.join(outdir, example, placement), placement);
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) {
      expect(r.findings).toEqual([]);
      const template = JSON.parse(fs.readFileSync(r.templateFile, 'utf8'));
      const functions = Object.values(template.Resources).filter((x: any) => x.Type === 'AWS::Lambda::Function') as any[];
      expect(functions).toHaveLength(9);
      // The placement really applied: one function in the VPC, or all nine.
      expect(functions.filter((f) => f.Properties.VpcConfig).length).toBe(placement === 'ALL_IN_VPC' ? 9 : 1);

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
