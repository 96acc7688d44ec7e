import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXAMPLES, synthExample } from '../../examples/synth';
import { ensureVenv, venvBin } from '../support/venv';

jest.setTimeout(15 * 60 * 1000);

describe('examples', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'examples-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test.each(EXAMPLES)('%s synthesizes with no unacknowledged cdk-nag finding and passes cfn-lint', (example) => {
    const reports = synthExample(example, path.join(outdir, example));
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) {
      expect(r.findings).toEqual([]);
      const template = JSON.parse(fs.readFileSync(r.templateFile, 'utf8'));
      expect(Object.values(template.Resources).filter((x: any) => x.Type === 'AWS::Lambda::Function')).toHaveLength(9);

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
