/**
 * TypeScript consumer: a fresh npm app installs the packed tarball (dist/js) with aws-cdk-lib and constructs
 * from the npm registry, compiles example (a) unchanged with tsc and runs it. Checks the template, that every
 * function's code was staged from the package's `assets/` inside node_modules, and that the staged bundles are
 * the package's bundles.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkExampleA, ConsumerContext, ConsumerError, ConsumerResult, copyInto, devDependencyVersion, DIST, REPO, run, sha256, singleArtifact } from './lib';

const PACKAGE = 'cdk-aurora-restore-pipeline';

/** Lists the asset stagings of example (a)'s stack: where each asset was read from. */
const STAGING_PROBE = `import { App, AssetStaging } from 'aws-cdk-lib';
import { build } from './same-region-defaults';

const app = new App({ outdir: process.argv[2] });
build(app);
const staged = app.node.findAll().filter((c): c is AssetStaging => c instanceof AssetStaging);
console.log(JSON.stringify(staged.map((s) => ({ path: s.node.path, sourcePath: s.sourcePath }))));
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
  fs.writeFileSync(path.join(app, 'staging-probe.ts'), STAGING_PROBE);

  const cdk = devDependencyVersion('aws-cdk-lib');
  const constructs = devDependencyVersion('constructs');
  ctx.log(`npm install ${path.relative(REPO, tarball)} aws-cdk-lib@${cdk} constructs@${constructs}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, `aws-cdk-lib@${cdk}`, `constructs@${constructs}`,
    `typescript@${installedVersion('typescript')}`, `@types/node@${installedVersion('@types/node')}`], { cwd: app, logFile });

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
  if (staged.length !== 9 || outside.length) {
    throw new ConsumerError(`expected 9 assets staged from ${installed}/assets/, found ${staged.length}`
      + (outside.length ? `; read from elsewhere: ${outside.map((s) => `${s.path} <- ${s.sourcePath}`).join(', ')}` : ''), logFile);
  }
  const packaged = new Set(fs.readdirSync(path.join(installed, 'assets')).map((d) => sha256(path.join(installed, 'assets', d, 'index.js'))));
  const foreign = [...bundles].filter(([, bundle]) => !packaged.has(sha256(bundle))).map(([id]) => id);
  if (packaged.size !== 9 || foreign.length) {
    throw new ConsumerError(`the staged code is not the package's: ${packaged.size} bundles in the package, functions with other code: ${foreign.join(', ') || 'none'}`, logFile);
  }

  return {
    status: 'pass',
    summary: `aws-cdk-lib ${cdk}: ${resources} resources, 9 functions whose code is staged from node_modules/${PACKAGE}/assets/ and equals the package's bundles`,
    outdir,
  };
}
