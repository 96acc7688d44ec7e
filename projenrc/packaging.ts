import type { awscdk, Task } from 'projen';

/** Runs a TypeScript script of the repo the way the other script tasks do (bench/, examples/). */
const TS_NODE = 'ts-node --transpile-only --project tsconfig.dev.json';

/**
 * The jsii packages of every target language, built into `dist/` and consumed as their users would.
 *
 * - `package:python`, `package:java`, `package:go` and `package:dotnet` (projen's tasks, reset here) each start
 *   from an empty `dist/<language>/`: jsii-pacmak adds to it and never deletes, and the consumer tests must not
 *   pick up a stale artifact.
 * - `package:java` builds the jar when Maven Central serves the aws-cdk-lib jar at our floor; otherwise it says
 *   so and generates the Java sources only (`dist/java/pom.xml` + `src/`), which `consumers java` compiles.
 * - `package:go` generates the Go module. A Go module is published as source, so `dist/go/` is the artifact;
 *   jsii-pacmak's own `go mod tidy && go build` check moves to `consumers go`, which builds it from a consumer
 *   module (and can stand in a version of an indirect module the Go module proxy does not serve).
 * - `package:dotnet` skips with a message where no .NET SDK is installed; the target stays in jsii.targets.
 * - `packages` runs `package:js`, then each language's task, and prints each one's time and size.
 * - `consumers [typescript|python|java|go ...]` builds a small app per language in a temp folder from the
 *   packages in `dist/`, synthesizes example (a), checks the template and compares it with TypeScript's.
 * - `ci` runs both after its package check.
 *
 * The consumer tests are scripts, not jest tests: they need every package built first, and they take minutes
 * of npm/pip/Maven/Go downloads and builds that `npx jest` must not pay for.
 */
export function configurePackaging(project: awscdk.AwsCdkConstructLibrary): void {
  const floor = project.cdkDeps.cdkMinimumVersion;

  resetTask(project, 'package:python', [
    'rm -rf dist/python',
    'jsii-pacmak -v --target python',
  ]);

  // The jar build compiles against aws-cdk-lib within our peer range; resolve its floor first, so a repository
  // that lacks it is named plainly instead of as a Maven stack trace. `--maven-local-repository` shares the
  // user's Maven cache (aws-cdk-lib's jar alone is > 100 MB) instead of a fresh one per build.
  resetTask(project, 'package:java', [
    'rm -rf dist/java',
    sh(`if mvn -q -B -U dependency:get -Dartifact=software.amazon.awscdk:aws-cdk-lib:${floor} -Dtransitive=false >/dev/null 2>&1; then
  jsii-pacmak -v --target java --maven-local-repository="$HOME/.m2/repository"
else
  echo "package:java: NOT BUILT: Maven Central, as reached from this machine, serves no jar of software.amazon.awscdk:aws-cdk-lib:${floor} (the floor of our aws-cdk-lib peer range), so the jar cannot be compiled. Generating the Java sources only into dist/java/ (npx projen consumers java compile-checks them)."
  jsii-pacmak -v --target java --code-only
fi`),
  ]);

  resetTask(project, 'package:go', [
    'rm -rf dist/go',
    'jsii-pacmak -v --target go --code-only',
    sh('echo "package:go: generated the Go module into dist/go/ (Go modules ship as source); npx projen consumers go builds it"'),
  ]);

  resetTask(project, 'package:dotnet', [
    'rm -rf dist/dotnet',
    sh(`if command -v dotnet >/dev/null 2>&1; then
  jsii-pacmak -v --target dotnet
else
  echo "package:dotnet: SKIPPED: no .NET SDK (dotnet) on this machine. The .NET target stays configured in package.json (jsii.targets.dotnet) and builds wherever dotnet is on the PATH."
fi`),
  ]);

  const packages = project.addTask('packages', {
    description: 'Build the JS, Python, Java and Go packages into dist/ (.NET where dotnet exists); print each one\'s build time and size',
    exec: `${TS_NODE} test/consumers/build-packages.ts`,
  });

  const consumers = project.addTask('consumers', {
    description: 'Consume the packages in dist/ as users would (TypeScript, Python, Java, Go apps in temp folders), synthesize example (a) and compare the templates; args: languages',
  });
  consumers.exec(`${TS_NODE} test/consumers/run.ts`, { receiveArgs: true });

  const ci = project.tasks.tryFind('ci');
  if (!ci) {
    throw new Error('configurePackaging: no `ci` task. Define it in .projenrc.ts before calling configurePackaging(project).');
  }
  ci.spawn(packages);
  ci.spawn(consumers);
}

/** A step run by `sh -c` (projen's own task shell knows no `if`). */
function sh(script: string): string[] {
  return ['sh', '-c', script];
}

/** Empties one of projen's tasks and gives it these steps: a string is a command, an array an argv. */
function resetTask(project: awscdk.AwsCdkConstructLibrary, name: string, steps: (string | string[])[]): Task {
  const task = project.tasks.tryFind(name);
  if (!task) {
    throw new Error(`configurePackaging: no \`${name}\` task. Is the language's publishTo* option set in .projenrc.ts?`);
  }
  task.reset();
  for (const step of steps) {
    if (typeof step === 'string') task.exec(step);
    else task.execArgs(step);
  }
  return task;
}
