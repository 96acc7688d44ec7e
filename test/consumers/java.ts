/**
 * Java consumer: the Maven app in test/consumers/java/ (example (a) in Java).
 *
 * When `package:java` built the jar, `dist/java` is a Maven repository: the app resolves the package from it
 * and aws-cdk-lib (the version the jar was built against) from Maven Central, and `cdk synth` runs it through
 * its cdk.json (`mvn -e -q compile exec:java`), as a Java CDK user does; the template is checked and compared
 * with TypeScript's.
 *
 * When `package:java` could only generate the sources (Maven Central, as reached from the machine, serves no
 * aws-cdk-lib jar at our floor), this compiles the generated sources and the app together against the newest
 * aws-cdk-lib below the floor that Maven Central serves, and reports `compile-only`: that aws-cdk-lib cannot
 * synthesize the construct. It first checks again that the floor's jar is really missing, so a jar build that
 * failed for any other reason cannot hide behind the compile check.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cdkSynth, checkExampleA, compareWithReference, ConsumerContext, ConsumerError, ConsumerResult, devDependencyVersion, DIST, packageVersion, run } from './lib';

const GROUP = 'io.github.cdk-aurora-restore-pipeline';
const ARTIFACT = 'cdk-aurora-restore-pipeline';
const APP_CLASS = path.join('com', 'example', 'StagingRefreshApp.class');
const VERSIONS_PLUGIN = 'org.codehaus.mojo:versions-maven-plugin:2.20.1';

export function consumeJava(ctx: ConsumerContext): ConsumerResult {
  const version = packageVersion();
  const cdk = devDependencyVersion('aws-cdk-lib');
  const constructs = devDependencyVersion('constructs');
  const logFile = path.join(ctx.dir, 'java.log');
  const app = path.join(ctx.dir, 'app');
  fs.cpSync(path.join(__dirname, 'java'), app, { recursive: true });

  const jar = path.join(DIST, 'java', ...GROUP.split('.'), ARTIFACT, version, `${ARTIFACT}-${version}.jar`);
  if (fs.existsSync(jar)) {
    // The jar's pom names the aws-cdk-lib and constructs it was built against (package:java resolves them).
    const pom = fs.readFileSync(jar.replace(/\.jar$/, '.pom'), 'utf8');
    const built = (artifact: string) => new RegExp(`<artifactId>${artifact}</artifactId>\\s*<version>([^<]+)</version>`).exec(pom)?.[1];
    return synthesize(ctx, { app, jar, version, cdk: built('aws-cdk-lib') ?? cdk, constructs: built('constructs') ?? constructs, logFile });
  }
  if (!fs.existsSync(path.join(DIST, 'java', 'pom.xml'))) {
    throw new ConsumerError('dist/java holds neither the jar nor the generated sources: run `npx projen packages` first');
  }
  return compileOnly(ctx, { app, version, cdk, logFile });
}

interface SynthesizeOptions {
  readonly app: string;
  readonly jar: string;
  readonly version: string;
  readonly cdk: string;
  readonly constructs: string;
  readonly logFile: string;
}

function synthesize(ctx: ConsumerContext, o: SynthesizeOptions): ConsumerResult {
  // Maven caches what it resolves from the dist/java repository; a cached jar of the same version from an
  // earlier build would win over the new one. Drop our own artifact's cache entry before and after.
  const cached = path.join(os.homedir(), '.m2', 'repository', ...GROUP.split('.'), ARTIFACT, o.version);
  fs.rmSync(cached, { recursive: true, force: true });
  const outdir = path.join(ctx.dir, 'cdk.out');
  // The versions and the repository holding the package, as the project's Maven command-line settings.
  fs.mkdirSync(path.join(o.app, '.mvn'), { recursive: true });
  fs.writeFileSync(path.join(o.app, '.mvn', 'maven.config'), [`-Dcdk.version=${o.cdk}`, `-Dconstructs.version=${o.constructs}`,
    `-Drestore.version=${o.version}`, `-Drestore.repository=file://${path.join(DIST, 'java')}`, '-B', '-Dstyle.color=never'].join('\n') + '\n');
  try {
    ctx.log(`cdk synth (mvn compile exec:java: the package from dist/java, aws-cdk-lib ${o.cdk} from Maven Central)`);
    cdkSynth(o.app, outdir, { logFile: o.logFile });
    const used = path.join(cached, path.basename(o.jar));
    if (!fs.existsSync(used) || !fs.readFileSync(used).equals(fs.readFileSync(o.jar))) {
      throw new ConsumerError(`the app did not build against ${path.relative(DIST, o.jar)} (Maven resolved ${used})`, o.logFile);
    }
  } finally {
    fs.rmSync(cached, { recursive: true, force: true });
  }
  const { resources } = checkExampleA(outdir);
  return {
    status: 'pass',
    summary: `aws-cdk-lib ${o.cdk}: ${resources} resources; ${compareWithReference('Java', outdir, ctx.referenceOutdir)}`,
    outdir,
  };
}

interface CompileOnlyOptions {
  readonly app: string;
  readonly version: string;
  readonly cdk: string;
  readonly logFile: string;
}

function compileOnly(ctx: ConsumerContext, o: CompileOnlyOptions): ConsumerResult {
  ctx.log(`dist/java holds sources only; checking that Maven Central serves no aws-cdk-lib ${o.cdk} jar`);
  const probe = run('mvn', ['-B', '-q', '-U', 'dependency:get', `-Dartifact=software.amazon.awscdk:aws-cdk-lib:${o.cdk}`, '-Dtransitive=false'],
    { cwd: ctx.dir, logFile: o.logFile, allowFailure: true });
  if (probe.status === 0) {
    throw new ConsumerError(`dist/java holds the generated sources only, yet Maven Central serves aws-cdk-lib ${o.cdk}: build the jar with \`npx projen package:java\``, o.logFile);
  }

  // The generated project, its aws-cdk-lib range moved below the floor, resolved the way jsii-pacmak resolves
  // its ranges before building (versions:resolve-ranges).
  const lib = path.join(ctx.dir, 'lib');
  fs.cpSync(path.join(DIST, 'java'), lib, { recursive: true });
  const pomFile = path.join(lib, 'pom.xml');
  const pom = fs.readFileSync(pomFile, 'utf8');
  const range = new RegExp(`(<artifactId>aws-cdk-lib</artifactId>\\s*<version>)\\[${o.cdk.replace(/\./g, '\\.')},[^<]*(</version>)`);
  if (!range.test(pom)) throw new ConsumerError(`dist/java/pom.xml has no aws-cdk-lib range starting at ${o.cdk}`);
  fs.writeFileSync(pomFile, pom.replace(range, `$1[2.0.0,${o.cdk})$2`));
  run('mvn', ['-B', '-q', `${VERSIONS_PLUGIN}:resolve-ranges`, '-DgenerateBackupPoms=false'], { cwd: lib, logFile: o.logFile });
  const resolved = fs.readFileSync(pomFile, 'utf8');
  const versionOf = (artifact: string) => {
    const m = new RegExp(`<artifactId>${artifact}</artifactId>\\s*<version>([^<]+)</version>`).exec(resolved);
    if (!m || /[[(,]/.test(m[1])) throw new ConsumerError(`could not resolve ${artifact}'s version range in the generated pom (found ${m?.[1]})`, o.logFile);
    return m[1];
  };
  const cdkHere = versionOf('aws-cdk-lib');
  const constructsHere = versionOf('constructs');

  fs.writeFileSync(path.join(ctx.dir, 'pom.xml'), [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>com.example</groupId><artifactId>compile-check</artifactId><version>0.1.0</version><packaging>pom</packaging>',
    '  <modules><module>lib</module><module>app</module></modules>',
    '</project>',
  ].join('\n'));
  const emptyRepository = path.join(ctx.dir, 'no-repository');
  fs.mkdirSync(emptyRepository);
  ctx.log(`mvn compile: the generated sources and the app against aws-cdk-lib ${cdkHere}`);
  run('mvn', ['-B', '-q', 'compile', `-Dcdk.version=${cdkHere}`, `-Dconstructs.version=${constructsHere}`,
    `-Drestore.version=${o.version}`, `-Drestore.repository=file://${emptyRepository}`], { cwd: ctx.dir, logFile: o.logFile });
  const classes = [
    path.join(lib, 'target', 'classes', 'io', 'github', 'cdkaurorarestorepipeline', 'AuroraRestorePipeline.class'),
    path.join(o.app, 'target', 'classes', APP_CLASS),
  ];
  const missing = classes.filter((c) => !fs.existsSync(c));
  if (missing.length) throw new ConsumerError(`mvn compile succeeded but wrote no ${missing.join(', ')}`, o.logFile);

  return {
    status: 'compile-only',
    summary: `the generated sources and the app (example (a)) compile against aws-cdk-lib ${cdkHere}; not synthesized`,
    notes: [
      `Maven Central, as reached from this machine, serves no aws-cdk-lib ${o.cdk} jar (our floor), so package:java generated the sources only`,
      `compiled against aws-cdk-lib ${cdkHere}, the newest it serves; below ${o.cdk} aws-cdk-lib rejects the construct's cdk-nag acknowledgement ids, so synthesis is not attempted`,
    ],
  };
}
