/*
 * The world an e2e scenario (or the demo) runs in: one moto server and, when users are set up, one local
 * PostgreSQL, started once per test file and reset before each scenario; then, per scenario, a pipeline
 * stack provisioned in moto, the source cluster with its snapshots, and the local PostgreSQL standing in
 * for the target cluster.
 */
import { randomBytes } from 'node:crypto';
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBInstanceCommand, type Tag } from '@aws-sdk/client-rds';
import type { Stack } from 'aws-cdk-lib';
import { createHarness, findSecretLeaks, seedCluster, type E2EHarness, type SecretLeak } from './harness';
import { MASTER_USERNAME, resetSourceDatabase, standInForCluster, type ClusterStandIn, type RestoredProduction } from './local-cluster';
import type { PipelineRun } from './run-pipeline';
import { provisionSourceAccount, type SourceAccount, type SourceAccountOptions } from './source-account';
import { startMoto, type MotoServer } from '../../support/moto';
import { awsJsonCall } from '../../support/moto-json-api';
import { startPostgres, type TestPostgres } from '../../support/postgres';

/** The servers of one test file. */
export interface World {
  readonly moto: MotoServer;
  /** Present when started with `postgres: true`. */
  readonly pg?: TestPostgres;
  /** The source cluster's master password (random per world): a secret the scans look for. */
  readonly sourcePassword: string;
  /** Stops the servers and removes their files. */
  stop(): Promise<void>;
}

/** Starts moto and, if asked, PostgreSQL (in parallel). */
export async function startWorld(options: { postgres?: boolean } = {}): Promise<World> {
  const [moto, pg] = await Promise.all([startMoto(), options.postgres ? startPostgres() : Promise.resolve(undefined)]);
  return {
    moto,
    pg,
    sourcePassword: `src-${randomBytes(12).toString('base64url')}`,
    stop: async () => {
      await Promise.all([moto.stop(), pg?.stop()]);
    },
  };
}

/** What a scenario starts from. */
export interface ScenarioOptions {
  /** Source snapshots to take, oldest first. Default `prod-aurora-old`, `prod-aurora-new`. */
  readonly snapshots?: string[];
  /** Environment for every function on top of the template's. */
  readonly extraEnv?: Record<string, string>;
  /** Whether the source cluster (and its snapshots) is encrypted. Default true. */
  readonly sourceEncrypted?: boolean;
}

/** One scenario: the pipeline provisioned in a clean moto, the source seeded, the target's stand-in ready. */
export interface Scenario {
  readonly world: World;
  readonly h: E2EHarness;
  /** The local PostgreSQL as the target cluster (when the world has PostgreSQL). */
  readonly target?: ClusterStandIn;
  /** What the source's snapshot holds: production's login roles and their passwords (when the world has PostgreSQL). */
  readonly production?: RestoredProduction;
  /**
   * Every secret value in play: Secrets Manager's, the source's master password, production's, the test server's
   * superuser's, and the secret parts of the role sessions the functions opened in another account.
   */
  secrets(): Promise<string[]>;
  /** Where any of {@link secrets} shows up in what the runs made observable (and the PostgreSQL log). */
  leaks(runs: PipelineRun[]): Promise<SecretLeak[]>;
}

/** Resets the world, provisions `stack` and seeds the source cluster `prod-aurora` in the pipeline's source region. */
export async function startScenario(world: World, stack: Stack, options: ScenarioOptions = {}): Promise<Scenario> {
  await world.moto.reset();
  return scenarioOn(world, stack, options, undefined);
}

/** A scenario of a restore across accounts. */
export interface CrossAccountScenario extends Scenario {
  /** The source account, with the AuroraRestoreSource stack's role and share key in it. */
  readonly source: SourceAccount;
}

/** What a scenario across accounts starts from. */
export interface CrossAccountScenarioOptions extends ScenarioOptions {
  /** The companion stack in the source account (account, region, props). */
  readonly source?: SourceAccountOptions;
}

/**
 * Resets the world, deploys the AuroraRestoreSource stack into the source account (its role and share key, see
 * source-account.ts), builds the pipeline's stack from it (`build` gets the role's and key's ARNs), provisions that
 * in the pipeline's account, and seeds the source cluster `prod-aurora` in the source account and region, encrypted
 * with that account's `aws/rds` key (as most production clusters are, and why the shareable copy is needed).
 */
export async function startCrossAccountScenario(
  world: World, build: (source: SourceAccount) => Stack, options: CrossAccountScenarioOptions = {},
): Promise<CrossAccountScenario> {
  await world.moto.reset();
  const source = await provisionSourceAccount(world.moto, options.source);
  const scenario = await scenarioOn(world, build(source), options, source);
  return { ...scenario, source };
}

async function scenarioOn(world: World, stack: Stack, options: ScenarioOptions, source: SourceAccount | undefined): Promise<Scenario> {
  const { moto, pg } = world;
  const production = pg ? await resetSourceDatabase(pg, { masterPassword: world.sourcePassword }) : undefined;
  const h = await createHarness({
    moto,
    stack,
    sourceAccount: source,
    extraEnv: {
      ...(pg ? { NODE_EXTRA_CA_CERTS: pg.caFile } : {}),
      // Each bundle carries its own SDK, which would warn once per run about Node 20's end of support.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...options.extraEnv,
    },
  });
  const snapshots = options.snapshots ?? ['prod-aurora-old', 'prod-aurora-new'];
  if (source) await seedSourceInAccount(source, world, h.config.sourceClusterIdentifier, snapshots, options.sourceEncrypted);
  else await seedSource(h, world, snapshots, options.sourceEncrypted);
  const target = pg
    ? await standInForCluster(h, pg, { clusterIdentifier: h.config.targetClusterIdentifier, region: h.config.targetRegion })
    : undefined;
  const secrets = async () => [
    ...await h.secretValues(), world.sourcePassword, ...(production?.passwords ?? []), ...(pg ? [pg.superPassword] : []), ...h.assumedRoleSecrets,
  ];
  return {
    world,
    h,
    target,
    production,
    secrets,
    leaks: async (runs) => findSecretLeaks(h, runs, await secrets(), pg ? { 'postgres log': pg.readLog() } : {}),
  };
}

/**
 * Creates the source cluster `prod-aurora` (master user {@link MASTER_USERNAME}) with `snapshots`, oldest first. An
 * encrypted one gets a customer managed key of the source region, as in AWS, which the preflight describes.
 */
export async function seedSource(h: E2EHarness, world: World, snapshots: string[], storageEncrypted = true): Promise<void> {
  const key = storageEncrypted
    ? (await awsJsonCall({ endpoint: world.moto.endpoint, region: h.config.sourceRegion }, 'kms', 'CreateKey', { Description: 'source cluster key', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' })).KeyMetadata
    : undefined;
  await seedCluster(h, {
    storageEncrypted,
    ...(key ? { kmsKeyId: key.Arn } : {}),
    region: h.config.sourceRegion,
    identifier: h.config.sourceClusterIdentifier,
    masterUsername: MASTER_USERNAME,
    masterPassword: world.sourcePassword,
  });
  for (const snapshot of snapshots) {
    await h.rds(h.config.sourceRegion).send(new CreateDBClusterSnapshotCommand({
      DBClusterIdentifier: h.config.sourceClusterIdentifier, DBClusterSnapshotIdentifier: snapshot,
    }));
  }
}

/**
 * Creates the source cluster `identifier` in the source account and its source region, encrypted with that account's
 * `aws/rds` key (unless `encrypted` is false), with `snapshots` (oldest first), as the account's administrator.
 */
export async function seedSourceInAccount(
  source: SourceAccount, world: World, identifier: string, snapshots: string[], encrypted = true,
): Promise<void> {
  const rds = source.rds(source.sourceRegion);
  const key = encrypted ? await world.moto.awsManagedKey(source.sourceRegion, source.account) : undefined;
  await rds.send(new CreateDBClusterCommand({
    DBClusterIdentifier: identifier,
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    MasterUsername: MASTER_USERNAME,
    MasterUserPassword: world.sourcePassword,
    StorageEncrypted: encrypted,
    ...(key ? { KmsKeyId: key.arn } : {}),
  }));
  for (const snapshot of snapshots) {
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: identifier, DBClusterSnapshotIdentifier: snapshot }));
  }
}

/** Creates a cluster where the target goes, as someone (or an earlier run) left it, with a writer and optionally a reader. */
export async function seedTarget(h: E2EHarness, world: World, options: { tags: Tag[]; reader?: boolean }): Promise<void> {
  await seedCluster(h, {
    region: h.config.targetRegion,
    identifier: h.config.targetClusterIdentifier,
    masterUsername: MASTER_USERNAME,
    masterPassword: world.sourcePassword,
    tags: options.tags,
    writerInstance: h.config.restore.instanceIdentifier,
  });
  if (options.reader) {
    await h.rds(h.config.targetRegion).send(new CreateDBInstanceCommand({
      DBInstanceIdentifier: `${h.config.targetClusterIdentifier}-reader`,
      DBClusterIdentifier: h.config.targetClusterIdentifier,
      Engine: 'aurora-postgresql',
      DBInstanceClass: 'db.serverless',
      Tags: options.tags,
    }));
  }
}

/** The audit trail of an operation as `Step:OUTCOME` strings, oldest first. */
export async function auditTrail(h: E2EHarness, operationId: string): Promise<string[]> {
  return (await h.auditItems(operationId)).map((i) => `${i.step}:${i.outcome}`);
}

/** The notifications received since the last read, parsed. */
export async function notifications(h: E2EHarness): Promise<Array<Record<string, any>>> {
  return (await h.receiveMessages()).map((m) => JSON.parse(m));
}

/** Fails with what happened when a run did not succeed (the tests' first check, so a failure says why). */
export function expectSucceeded(run: PipelineRun): void {
  if (run.status === 'SUCCEEDED') return;
  const steps = run.invocations.map((i) => `${i.stateName}#${i.attempt}: ${i.error ? `${i.error.errorType}: ${i.error.errorMessage}` : 'ok'}`);
  throw new Error(`Execution ${run.executionName} ${run.status}: ${run.error?.Error}: ${run.error?.Cause}\n${steps.join('\n')}`);
}

/** Runs the pipeline and stops it right after the first call of `afterState`, as StopExecution would. */
export async function runAndStop(h: E2EHarness, executionName: string, afterState: string): Promise<PipelineRun> {
  const stop = new AbortController();
  return h.run({ requestedBy: 'nightly' }, {
    executionName,
    signal: stop.signal,
    afterTask: (inv) => {
      if (inv.stateName === afterState) stop.abort();
    },
  });
}
