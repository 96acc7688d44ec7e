import type { awscdk, Task } from 'projen';

/** Runs a TypeScript script of the repo the way the other script tasks do (bench/, examples/). */
const TS_NODE = 'ts-node --transpile-only --project tsconfig.dev.json';

/**
 * The jsii packages of every target language, built into `dist/` and consumed as their users would.
 *
 * - `package:python`, `package:java`, `package:go` and `package:dotnet` (projen's tasks, reset here) each start
 *   from an empty `dist/<language>/`: jsii-pacmak adds to it and never deletes, and the consumer tests must not
 *   pick up a stale artifact.
 * - `package:java` builds the jar against the first aws-cdk-lib Maven Central serves of our floor and 2.272.0
 *   (test/consumers/package-java.ts); where neither is served it says so and generates the Java sources only
 *   (`dist/java/pom.xml` + `src/`), which `consumers java` compiles.
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
  resetTask(project, 'package:python', [
    'rm -rf dist/python',
    'jsii-pacmak -v --target python',
  ]);

  // jsii-pacmak's Java build cannot resolve aws-cdk-lib's range where Maven Central's metadata lags what it
  // serves: test/consumers/package-java.ts does its steps with a served aws-cdk-lib (see there).
  resetTask(project, 'package:java', [`${TS_NODE} test/consumers/package-java.ts`]);

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

  const js = project.tasks.tryFind('package:js');
  if (js) quietJsii(js);

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
  quietJsii(task);
  for (const step of steps) {
    if (typeof step === 'string') task.exec(step);
    else task.execArgs(step);
  }
  return task;
}

/**
 * jsii prints a screen-high Node 20 end-of-life banner on every run; the package steps run it once each. The
 * compile step still shows it once per build.
 */
function quietJsii(task: Task): void {
  task.env('JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION', '20');
}
