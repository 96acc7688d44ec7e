/**
 * Go consumer: a module with test/consumers/go/main.go (example (a) in Go) requires the generated module
 * (dist/go/..., through a `replace` directive, as for an unpublished module), aws-cdk-go and constructs-go from
 * the Go module proxy. `go build ./...` of both the app and every package of the generated module, then the app
 * synthesizes with `cdk synth` through its cdk.json (`go run .`), as a Go CDK user does; the template is checked
 * and compared with TypeScript's.
 *
 * jsii-pacmak pins the generated module's indirect requirements to the versions installed in node_modules. When
 * the Go module proxy does not serve such a version, the app stands in the version that aws-cdk-go itself
 * requires (a `replace` of that one version), and says so in the result's notes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cdkSynth, checkExampleA, compareWithReference, ConsumerContext, ConsumerError, ConsumerResult, copyInto, devDependencyVersion, DIST, packageVersion, run } from './lib';

const AWSCDK = 'github.com/aws/aws-cdk-go/awscdk/v2';
const CONSTRUCTS = 'github.com/aws/constructs-go/constructs/v10';
const JSII_RUNTIME = 'github.com/aws/jsii-runtime-go';

interface GoModJson {
  Module: { Path: string };
  Go?: string;
  Require?: { Path: string; Version: string; Indirect?: boolean }[];
}

export function consumeGo(ctx: ConsumerContext): ConsumerResult {
  const logFile = path.join(ctx.dir, 'go.log');
  const app = path.join(ctx.dir, 'app');
  const env = { GOWORK: 'off' };
  const go = (args: string[], allowFailure = false) => run('go', args, { cwd: app, logFile, env, allowFailure });
  const goModJson = (file: string): GoModJson => JSON.parse(go(['mod', 'edit', '-json', file]).stdout);

  const roots = fs.existsSync(path.join(DIST, 'go')) ? fs.readdirSync(path.join(DIST, 'go')).filter((d) => fs.existsSync(path.join(DIST, 'go', d, 'go.mod'))) : [];
  if (roots.length !== 1) throw new ConsumerError(`expected one generated Go module in dist/go/, found ${roots.length}: run \`npx projen packages\` first`);
  const moduleDir = path.join(DIST, 'go', roots[0]);
  copyInto(path.join(__dirname, 'go', 'main.go'), app);
  const generated = goModJson(path.join(moduleDir, 'go.mod'));
  const requires = generated.Require ?? [];
  const jsiiRuntime = requires.find((r) => r.Path === JSII_RUNTIME)?.Version;
  if (!jsiiRuntime) throw new ConsumerError(`the generated go.mod does not require ${JSII_RUNTIME}`);

  const cdk = `v${devDependencyVersion('aws-cdk-lib')}`;
  const ours = generated.Module.Path;
  fs.writeFileSync(path.join(app, 'go.mod'), [
    'module example.com/stagingrefresh',
    '',
    `go ${generated.Go ?? '1.23'}`,
    '',
    'require (',
    `\t${AWSCDK} ${cdk}`,
    `\t${CONSTRUCTS} v${devDependencyVersion('constructs')}`,
    `\t${JSII_RUNTIME} ${jsiiRuntime}`,
    `\t${ours} v${packageVersion()}`,
    ')',
    '',
    `replace ${ours} => ${moduleDir}`,
    '',
  ].join('\n'));

  // Every version the generated module pins must be downloadable, or be stood in for by aws-cdk-go's own.
  ctx.log(`go mod download: the ${requires.length} modules the generated go.mod requires`);
  const notes: string[] = [];
  let cdkRequires: GoModJson['Require'];
  for (const r of requires) {
    if (go(['mod', 'download', `${r.Path}@${r.Version}`], true).status === 0) continue;
    if (!cdkRequires) {
      const info = JSON.parse(go(['mod', 'download', '-json', `${AWSCDK}@${cdk}`]).stdout);
      cdkRequires = goModJson(info.GoMod).Require ?? [];
    }
    const stand = cdkRequires.find((c) => c.Path === r.Path)?.Version;
    if (!stand || stand === r.Version || go(['mod', 'download', `${r.Path}@${stand}`], true).status !== 0) {
      throw new ConsumerError(`the Go module proxy does not serve ${r.Path}@${r.Version}, which the generated go.mod requires, `
        + `and ${AWSCDK}@${cdk} offers no other version of it that it serves`, logFile);
    }
    go(['mod', 'edit', `-replace=${r.Path}@${r.Version}=${r.Path}@${stand}`]);
    notes.push(`the Go module proxy does not serve ${r.Path}@${r.Version} (pinned by jsii-pacmak from node_modules); built with ${stand}, the version ${AWSCDK}@${cdk} requires`);
  }

  ctx.log(`go mod tidy; go build ./... ${ours}/...`);
  go(['mod', 'tidy']);
  go(['build', './...']);
  go(['build', `${ours}/...`]);
  go(['vet', `${ours}/...`]);

  ctx.log('cdk synth (go run .)');
  copyInto(path.join(__dirname, 'go', 'cdk.json'), app);
  const outdir = path.join(ctx.dir, 'cdk.out');
  cdkSynth(app, outdir, { logFile, env });
  const { resources } = checkExampleA(outdir);
  return {
    status: 'pass',
    summary: `aws-cdk-go ${cdk}: ${resources} resources; ${compareWithReference('Go', outdir, ctx.referenceOutdir)}`,
    notes,
    outdir,
  };
}
