/**
 * Python consumer: a venv installs the built wheel (dist/python) with aws-cdk-lib and constructs from PyPI, and
 * `cdk synth` runs examples/python/app.py unchanged through its cdk.json with the venv active, as a Python CDK
 * user does. Checks the template, compares it with TypeScript's, and checks that the
 * props' docstring renders as Python documentation.
 */
import * as path from 'path';
import { cdkSynth, checkExampleA, compareWithReference, ConsumerContext, ConsumerError, ConsumerResult, copyInto, devDependencyVersion, DIST, REPO, run, singleArtifact } from './lib';

const DOCSTRING_PROBE = [
  'import inspect',
  'from cdk_aurora_restore_pipeline import AuroraRestorePipelineProps',
  'print(inspect.getdoc(AuroraRestorePipelineProps.__init__))',
].join('\n');

export function consumePython(ctx: ConsumerContext): ConsumerResult {
  const wheel = singleArtifact(path.join(DIST, 'python'), /\.whl$/);
  const logFile = path.join(ctx.dir, 'python.log');
  const venv = path.join(ctx.dir, 'venv');
  const python = path.join(venv, 'bin', 'python');
  const cdk = devDependencyVersion('aws-cdk-lib');
  const constructs = devDependencyVersion('constructs');

  ctx.log(`python3 -m venv; pip install ${path.basename(wheel)} aws-cdk-lib==${cdk} constructs==${constructs}`);
  run('python3', ['-m', 'venv', venv], { cwd: ctx.dir, logFile });
  run(python, ['-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--quiet', wheel, `aws-cdk-lib==${cdk}`, `constructs==${constructs}`], { cwd: ctx.dir, logFile });

  ctx.log('cdk synth (python3 app.py, in the venv)');
  const app = path.join(ctx.dir, 'app');
  copyInto(path.join(REPO, 'examples', 'python', 'app.py'), app);
  copyInto(path.join(REPO, 'examples', 'python', 'cdk.json'), app);
  const outdir = path.join(ctx.dir, 'cdk.out');
  cdkSynth(app, outdir, { logFile, env: { VIRTUAL_ENV: venv, PATH: `${path.join(venv, 'bin')}${path.delimiter}${process.env.PATH}` } });
  const { resources } = checkExampleA(outdir);
  const comparison = compareWithReference('Python', outdir, ctx.referenceOutdir);

  // The props' documentation as `help()` shows it: jsii turns the TSDoc into reStructuredText fields.
  const doc = run(python, ['-c', DOCSTRING_PROBE], { cwd: app, logFile }).stdout;
  const problems = [
    ...[':param source_cluster_identifier:', ':param vpc:', ' Default: '].filter((s) => !doc.includes(s)).map((s) => `lacks "${s}"`),
    ...['{@link', '@default', '@example'].filter((s) => doc.includes(s)).map((s) => `shows the raw TSDoc "${s}"`),
  ];
  if (problems.length) {
    throw new ConsumerError(`AuroraRestorePipelineProps' Python docstring ${problems.join(', ')}:\n${doc}`, logFile);
  }

  return {
    status: 'pass',
    summary: `aws-cdk-lib ${cdk}: ${resources} resources; ${comparison}; the props' docstring renders (${doc.split('\n')[0].trim()})`,
    outdir,
  };
}
