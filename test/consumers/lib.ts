/**
 * Shared by the consumer tests (`npx projen consumers`): commands with logs, the repo's versions, the checks
 * every synthesized template must pass, and the normalisation that makes two languages' templates comparable.
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { HANDLER_SPECS } from '../../src/handlers';

export const REPO = path.resolve(__dirname, '..', '..');
export const DIST = path.join(REPO, 'dist');
export const STACK = 'StagingRefresh';

/** What a consumer test hands back to the runner. */
export interface ConsumerResult {
  /** `pass`: built and synthesized; `compile-only`: built, could not synthesize here (the note says why). */
  readonly status: 'pass' | 'compile-only';
  /** One line: what was checked. */
  readonly summary: string;
  /** Why a check was narrowed or a workaround applied on this machine. */
  readonly notes?: string[];
  /** The cloud assembly the app synthesized (kept until the run ends). */
  readonly outdir?: string;
}

/** What the runner hands to each consumer test. */
export interface ConsumerContext {
  /** An empty folder of this test's own, deleted afterwards. */
  readonly dir: string;
  /** TypeScript's cloud assembly, when the TypeScript test ran first and passed: the reference template. */
  readonly referenceOutdir?: string;
  /** Prints a progress line. */
  log(message: string): void;
}

/** A failed check, with what to do about it. */
export class ConsumerError extends Error {
  constructor(message: string, readonly logFile?: string) {
    super(message);
    this.name = 'ConsumerError';
  }
}

export interface RunOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the command's output goes (appended). */
  readonly logFile: string;
  /** Return the exit status instead of throwing on failure. */
  readonly allowFailure?: boolean;
}

/** Runs a command, its output appended to `logFile`; throws a ConsumerError naming the command when it fails. */
export function run(command: string, args: string[], opts: RunOptions): { status: number; stdout: string } {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20', ...opts.env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const line = `$ ${[command, ...args].join(' ')}  (in ${opts.cwd}, ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${result.status ?? result.signal})`;
  fs.appendFileSync(opts.logFile, `${line}\n${result.stdout ?? ''}${result.stderr ?? ''}\n`);
  if (result.error) throw new ConsumerError(`could not run ${command}: ${result.error.message}. Is it installed and on the PATH?`, opts.logFile);
  const status = result.status ?? 1;
  if (status !== 0 && !opts.allowFailure) {
    throw new ConsumerError(`\`${[command, ...args].join(' ')}\` failed with exit ${result.status ?? result.signal}; its output is at the end of the log`, opts.logFile);
  }
  return { status, stdout: result.stdout ?? '' };
}

/**
 * `cdk synth` in `appDir`, as a CDK user runs their app: the CDK CLI (the repo's aws-cdk devDependency) runs
 * the `app` command of the folder's cdk.json and collects the cloud assembly into `outdir`.
 */
export function cdkSynth(appDir: string, outdir: string, opts: { logFile: string; env?: NodeJS.ProcessEnv }): void {
  const cli = path.join(REPO, 'node_modules', '.bin', 'cdk');
  if (!fs.existsSync(path.join(appDir, 'cdk.json'))) throw new ConsumerError(`${appDir} has no cdk.json for \`cdk synth\``);
  run(cli, ['synth', '--quiet', '--no-notices', '--output', outdir], {
    cwd: appDir,
    logFile: opts.logFile,
    env: { CDK_DISABLE_CLI_TELEMETRY: 'true', ...opts.env },
  });
}

/** An exact version of one of the repo's dev dependencies (aws-cdk-lib, constructs, typescript...). */
export function devDependencyVersion(name: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const spec: string | undefined = pkg.devDependencies?.[name];
  const version = spec?.replace(/^[\^~]/, '');
  if (!version || !/^\d+\.\d+\.\d+/.test(version)) {
    throw new ConsumerError(`package.json has no exact devDependency version of ${name} (found ${JSON.stringify(spec)}); the consumers install that version`);
  }
  return version;
}

/** The package's own version (package.json), which every language's artifact carries. */
export function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
}

/** The single file in `dir` whose name matches, or a ConsumerError that says to build the packages. */
export function singleArtifact(dir: string, pattern: RegExp): string {
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => pattern.test(f)) : [];
  if (found.length !== 1) {
    throw new ConsumerError(`expected one ${pattern} in ${path.relative(REPO, dir)}/, found ${found.length ? found.join(', ') : 'none'}: run \`npx projen packages\` first`);
  }
  return path.join(dir, found[0]);
}

export function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Copies a file, creating the target's folder. */
export function copyInto(file: string, dir: string, name = path.basename(file)): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, name);
  fs.copyFileSync(file, target);
  return target;
}

interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: any; Metadata?: unknown }>;
  [section: string]: any;
}

interface AssetManifest {
  files?: Record<string, { displayName?: string; source: { path?: string; packaging?: string } }>;
  dockerImages?: Record<string, { displayName?: string }>;
}

/** The stack's template and asset manifest as synthesized into `outdir`. */
export function readCloudAssembly(outdir: string): { template: CfnTemplate; assets: AssetManifest } {
  const templateFile = path.join(outdir, `${STACK}.template.json`);
  if (!fs.existsSync(templateFile)) throw new ConsumerError(`the app synthesized no ${STACK}.template.json into ${outdir}`);
  const assetsFile = path.join(outdir, `${STACK}.assets.json`);
  return {
    template: JSON.parse(fs.readFileSync(templateFile, 'utf8')),
    assets: fs.existsSync(assetsFile) ? JSON.parse(fs.readFileSync(assetsFile, 'utf8')) : {},
  };
}

/** Resource counts example (a) must synthesize to, in any language. */
export const EXPECTED_RESOURCE_COUNTS: Record<string, number> = {
  'AWS::Lambda::Function': HANDLER_SPECS.length,
  // The SDK layer every function carries.
  'AWS::Lambda::LayerVersion': 1,
  'AWS::StepFunctions::StateMachine': 1,
  'AWS::DynamoDB::Table': 2,
  'AWS::SNS::Topic': 1,
  'AWS::KMS::Key': 1,
  'AWS::SecretsManager::Secret': 1,
  // The stopped-execution rule's dead-letter queue and the nightly schedule's.
  'AWS::SQS::Queue': 2,
  'AWS::Scheduler::Schedule': 1,
  'AWS::CloudWatch::Dashboard': 1,
  // Four on executions, one on handler errors per 10 functions (CloudWatch's limit of metrics in an alarm).
  'AWS::CloudWatch::Alarm': 4 + Math.ceil(HANDLER_SPECS.length / 10),
  'AWS::RDS::DBSubnetGroup': 1,
};

/**
 * Checks example (a)'s cloud assembly: the resources, and that each function's code is a staged
 * asset in `outdir` holding a non-empty `index.js`. Returns the staged bundles' paths by function logical id.
 */
export function checkExampleA(outdir: string): { resources: number; bundles: Map<string, string> } {
  const { template, assets } = readCloudAssembly(outdir);
  const counts = new Map<string, number>();
  for (const r of Object.values(template.Resources)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
  const wrong = Object.entries(EXPECTED_RESOURCE_COUNTS)
    .filter(([type, n]) => (counts.get(type) ?? 0) !== n)
    .map(([type, n]) => `${type}: ${counts.get(type) ?? 0}, expected ${n}`);
  if (wrong.length) throw new ConsumerError(`the template has the wrong resources: ${wrong.join('; ')}`);
  const leaked = tokenLiterals(template);
  if (leaked.length) {
    throw new ConsumerError('the template holds unresolved token text (a token was edited as a string, e.g. lowercased, so CDK no longer '
      + `recognises it and CloudFormation gets it literally): ${leaked.join('; ')}`);
  }

  const bundles = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const key: unknown = r.Properties?.Code?.S3Key;
    const hash = typeof key === 'string' ? key.replace(/\.zip$/, '') : undefined;
    const asset = hash ? assets.files?.[hash] : undefined;
    if (!asset?.source.path) throw new ConsumerError(`function ${id}'s code is not a file asset of the stack (Code: ${JSON.stringify(r.Properties?.Code)})`);
    const bundle = path.join(outdir, asset.source.path, 'index.js');
    if (!fs.existsSync(bundle) || fs.statSync(bundle).size === 0) {
      throw new ConsumerError(`function ${id}'s code asset ${asset.source.path} has no index.js: the package's assets/ did not reach the app`);
    }
    bundles.set(id, bundle);
  }
  if (new Set([...bundles.values()].map(sha256)).size !== HANDLER_SPECS.length) {
    throw new ConsumerError(`the ${HANDLER_SPECS.length} functions do not have ${HANDLER_SPECS.length} different code bundles`);
  }
  return { resources: Object.keys(template.Resources).length, bundles };
}

/** Where a string of the template still holds a token's text, `${Token[...]}` in any case. */
function tokenLiterals(value: unknown, at = ''): string[] {
  if (typeof value === 'string') return /\$\{token\[/i.test(value) ? [`${at}: ${JSON.stringify(value)}`] : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => tokenLiterals(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`));
}

/**
 * Makes templates synthesized by different languages comparable, and removes nothing else:
 * - each resource's `Metadata` (`aws:cdk:path`, `aws:asset:*`: construct paths and local asset paths);
 * - the `CDKMetadata` resource and its `CDKMetadataAvailable` condition (version reporting, when enabled);
 * - `Parameters.BootstrapVersion` and `Rules.CheckBootstrapVersion` (the CDK version's bootstrap contract);
 * - asset hashes: every hash of the stack's asset manifest (the S3 keys of the functions' code) becomes
 *   `<asset:DISPLAY NAME>`, e.g. `<asset:Restore/Handlers/SnapshotCheck/Code>.zip`.
 * Emptied sections are dropped.
 */
export function normaliseTemplate(outdir: string): unknown {
  const { template, assets } = readCloudAssembly(outdir);
  const t: CfnTemplate = JSON.parse(JSON.stringify(template));
  for (const r of Object.values(t.Resources)) delete r.Metadata;
  delete t.Resources.CDKMetadata;
  if (t.Conditions) delete t.Conditions.CDKMetadataAvailable;
  if (t.Parameters) delete t.Parameters.BootstrapVersion;
  if (t.Rules) delete t.Rules.CheckBootstrapVersion;
  for (const section of ['Conditions', 'Parameters', 'Rules']) {
    if (t[section] && Object.keys(t[section]).length === 0) delete t[section];
  }
  const labels = new Map<string, string>();
  for (const [hash, a] of Object.entries({ ...assets.files, ...assets.dockerImages })) {
    labels.set(hash, `<asset:${a.displayName ?? 'unnamed'}>`);
  }
  let text = JSON.stringify(t);
  for (const [hash, label] of labels) text = text.split(hash).join(label);
  return JSON.parse(text);
}

/** Asset hashes by display name, to tell whether two languages staged byte-identical code. */
export function assetHashes(outdir: string): Map<string, string> {
  const { assets } = readCloudAssembly(outdir);
  return new Map(Object.entries(assets.files ?? {}).map(([hash, a]) => [a.displayName ?? hash, hash]));
}

/** The JSON paths at which two values differ, with both values (shortened), at most `limit` of them. */
export function jsonDiff(a: unknown, b: unknown, limit = 25): string[] {
  const out: string[] = [];
  const short = (v: unknown) => {
    const s = JSON.stringify(v);
    return s === undefined ? 'absent' : s.length > 160 ? `${s.slice(0, 157)}...` : s;
  };
  const walk = (x: any, y: any, at: string) => {
    if (out.length >= limit) return;
    if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
      const keys = Array.isArray(x)
        ? [...Array(Math.max(x.length, y.length)).keys()].map(String)
        : [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
      for (const k of keys) walk(x[k], y[k], Array.isArray(x) ? `${at}[${k}]` : `${at}.${k}`);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      out.push(`${at || '$'}: ${short(x)}  vs  ${short(y)}`);
    }
  };
  walk(a, b, '');
  return out;
}

/**
 * Compares a language's template with TypeScript's, both normalised. Throws with the differing paths when they
 * differ; else returns what matched, including whether the asset hashes (normalised away) were identical too.
 */
export function compareWithReference(language: string, outdir: string, referenceOutdir: string | undefined): string {
  if (!referenceOutdir) {
    throw new ConsumerError(`no TypeScript template to compare the ${language} one with: run the typescript consumer in the same run (npx projen consumers typescript ${language})`);
  }
  const diff = jsonDiff(normaliseTemplate(referenceOutdir), normaliseTemplate(outdir));
  if (diff.length) {
    throw new ConsumerError(`the ${language} template differs from TypeScript's (TypeScript's value first):\n    ${diff.join('\n    ')}`);
  }
  const mine = assetHashes(outdir);
  const theirs = assetHashes(referenceOutdir);
  const differing = [...theirs].filter(([name, hash]) => mine.get(name) !== hash).map(([name]) => name);
  return 'template identical to TypeScript\'s after normalisation; '
    + (differing.length ? `asset hashes differ for ${differing.join(', ')}` : `all ${theirs.size} asset hashes identical too`);
}

/** Total size of a file or folder, in bytes. */
export function sizeOf(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, f) => n + sizeOf(path.join(p, f)), 0);
}

export function kib(bytes: number): string {
  return bytes >= 10 * 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}
