/**
 * `npx projen package:java`: the jar, with its sources and javadoc jars, into dist/java/ as a Maven repository,
 * the way jsii-pacmak's own Java build does it: generate the Maven project, resolve its version ranges to point
 * versions, `mvn deploy` into dist/java.
 *
 * jsii-pacmak resolves aws-cdk-lib's range (our peer range, `[floor,3.0.0)`) to the newest version that Maven
 * Central's metadata lists. Maven Central, as reached from this machine, lists nothing above 2.263.0 for
 * aws-cdk-lib and refuses the floor's jar, yet serves the 2.272.0 jar when asked by version. So this builds
 * against the first of these that Maven Central serves: the floor, then JAVA_AWS_CDK_LIB_VERSION (default
 * 2.272.0). Where neither is served it says so and generates the sources only (`consumers java` then
 * compile-checks them).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DIST, REPO } from './lib';

/** aws-cdk-lib to build against when Maven Central does not serve the floor's jar (it served 2.272.0 on 2026-11-29). */
const SERVED_FALLBACK = process.env.JAVA_AWS_CDK_LIB_VERSION ?? '2.272.0';
const VERSIONS_PLUGIN = 'org.codehaus.mojo:versions-maven-plugin:2.20.1';
const env = {
  ...process.env,
  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20',
  // jsii-pacmak's own setting for Maven: later JIT, a third faster on short builds.
  MAVEN_OPTS: `${process.env.MAVEN_OPTS ?? ''} -XX:+TieredCompilation -XX:TieredStopAtLevel=1`,
};

function run(command: string, args: string[], cwd = REPO, quiet = false): number {
  const result = spawnSync(command, args, { cwd, env, stdio: quiet ? 'ignore' : 'inherit' });
  if (result.error) throw new Error(`package:java: could not run ${command}: ${result.error.message}. Is it installed and on the PATH?`);
  return result.status ?? 1;
}

function mustRun(command: string, args: string[], cwd = REPO): void {
  const status = run(command, args, cwd);
  if (status !== 0) throw new Error(`package:java: FAILED: \`${[command, ...args].join(' ')}\` exited with ${status} (in ${cwd})`);
}

const served = (version: string) => run('mvn', ['-q', '-B', '-U', 'dependency:get', `-Dartifact=software.amazon.awscdk:aws-cdk-lib:${version}`, '-Dtransitive=false'], REPO, true) === 0;

function main(): void {
  const floor = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).peerDependencies['aws-cdk-lib'].replace(/^[\^~]/, '');
  const outdir = path.join(DIST, 'java');
  fs.rmSync(outdir, { recursive: true, force: true });
  const cdk = [floor, SERVED_FALLBACK].find(served);
  if (!cdk) {
    // On a line of its own: Maven may leave colour codes without a newline, and `packages` picks up lines starting 'package:java:'.
    console.log(`\npackage:java: NOT BUILT: Maven Central, as reached from this machine, serves no jar of software.amazon.awscdk:aws-cdk-lib ${floor} `
      + `(our floor) nor ${SERVED_FALLBACK} (set JAVA_AWS_CDK_LIB_VERSION to one it serves), so the jar cannot be compiled. Generating the Java `
      + 'sources only into dist/java/ (npx projen consumers java compile-checks them).');
    mustRun('npx', ['jsii-pacmak', '-v', '--target', 'java', '--code-only']);
    return;
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-arp-java-'));
  try {
    mustRun('npx', ['jsii-pacmak', '-v', '--target', 'java', '--code-only', '--outdir', work]);
    const project = path.join(work, 'java');
    const pomFile = path.join(project, 'pom.xml');
    const pom = fs.readFileSync(pomFile, 'utf8');
    const range = /(<artifactId>aws-cdk-lib<\/artifactId>\s*<version>)\[[^<]*(<\/version>)/;
    if (!range.test(pom)) throw new Error('package:java: FAILED: the generated pom.xml has no aws-cdk-lib version range to set');
    fs.writeFileSync(pomFile, pom.replace(range, `$1${cdk}$2`));
    mustRun('mvn', ['-q', '-B', '-Dstyle.color=never', `${VERSIONS_PLUGIN}:resolve-ranges`, '-DgenerateBackupPoms=false'], project);
    fs.mkdirSync(outdir, { recursive: true });
    mustRun('mvn', ['-q', '-B', '-Dstyle.color=never', 'deploy', `-DaltDeploymentRepository=local::default::file://${outdir}`], project);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`\npackage:java: built the jar against aws-cdk-lib ${cdk}`
    + (cdk === floor ? ' (our floor)' : ` (Maven Central, as reached from this machine, serves no jar of our floor, ${floor})`));
}

try {
  main();
} catch (e) {
  console.log((e as Error).message);
  process.exit(1);
}
