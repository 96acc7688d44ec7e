import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsStub } from 'aws-sdk-client-mock';
import { copySnapshotIdentifier } from '../../../lambda-src/lib/naming';
import {
  CopyProgress,
  DatabasePrivilege,
  DbUserSpec,
  ExecutionStatusChangeDetail,
  ExecutionStatusChangeEvent,
  PIPELINE_CONFIG_ENV,
  PipelineConfig,
  PipelineState,
  PipelineTag,
  PreviousTargetRetention,
  ReplaceStrategy,
  RestoreProgress,
  SnapshotInfo,
} from '../../../src/contracts';
import { statusChangeEvent } from '../../support/status-change-event';

/** Account, regions and names the factories use. */
export const ACCOUNT = '123456789012';
export const SOURCE_REGION = 'eu-west-1';
export const TARGET_REGION = 'eu-central-1';
export const PIPELINE_ID = 'pipeline-under-test';
export const OPERATION_ID = 'op-1';
export const EXECUTION_ARN = `arn:aws:states:${TARGET_REGION}:${ACCOUNT}:execution:restore:${OPERATION_ID}`;
export const MASTER_SECRET_ARN = `arn:aws:secretsmanager:${TARGET_REGION}:${ACCOUNT}:secret:master-AbCdEf`;
export const USER_SECRET_ARN = `arn:aws:secretsmanager:${TARGET_REGION}:${ACCOUNT}:secret:app-user-GhIjKl`;

/** A complete, valid configuration: cross-region, replace allowed, one database user. */
export function makeConfig(overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  return {
    pipelineId: PIPELINE_ID,
    sourceClusterIdentifier: 'prod-db',
    sourceRegion: SOURCE_REGION,
    targetClusterIdentifier: 'staging-db',
    targetRegion: TARGET_REGION,
    stateTableName: 'state-table',
    auditTableName: 'audit-table',
    topicArn: `arn:aws:sns:${TARGET_REGION}:${ACCOUNT}:restore-topic`,
    includeAutomatedSnapshots: false,
    snapshotCopyKeyArn: `arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/copy-key`,
    tags: [{ key: 'team', value: 'data' }],
    replaceExistingTarget: true,
    assumeTargetOwned: false,
    finalSnapshotOnDelete: false,
    allowDisableDeletionProtection: false,
    retainSnapshotCopy: false,
    restore: {
      subnetGroupName: 'db-subnets',
      securityGroupIds: ['sg-123'],
      instanceClass: 'db.serverless',
      instanceIdentifier: 'staging-db-writer',
      serverlessV2MinCapacity: 0.5,
      serverlessV2MaxCapacity: 4,
      deletionProtection: false,
      port: 5432,
      kmsKeyArn: `arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/cluster-key`,
      tags: [{ key: 'env', value: 'staging' }],
      masterSecretArn: MASTER_SECRET_ARN,
    },
    waits: { pollIntervalSeconds: 30, maxPollIntervalSeconds: 300, backoffRate: 1.5, budgetSeconds: 3600 },
    stateTtlSeconds: 86400 * 90,
    lockTtlSeconds: 86400,
    finalSnapshotsToKeep: 5,
    replaceStrategy: ReplaceStrategy.SWAP,
    previousTargetRetention: PreviousTargetRetention.DELETE,
    retainFailedRestore: false,
    ...overrides,
  };
}

/** Sets PIPELINE_CONFIG for the handlers and returns the configuration. */
export function useConfig(overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  const config = makeConfig(overrides);
  process.env[PIPELINE_CONFIG_ENV] = JSON.stringify(config);
  return config;
}

export const SOURCE_SNAPSHOT_ID = 'prod-db-2026-11-01';
export const SOURCE_SNAPSHOT_ARN = `arn:aws:rds:${SOURCE_REGION}:${ACCOUNT}:cluster-snapshot:${SOURCE_SNAPSHOT_ID}`;

export function makeSnapshotInfo(overrides: Partial<SnapshotInfo> = {}): SnapshotInfo {
  return {
    identifier: SOURCE_SNAPSHOT_ID,
    arn: SOURCE_SNAPSHOT_ARN,
    region: SOURCE_REGION,
    snapshotType: 'manual',
    engine: 'aurora-postgresql',
    engineVersion: '16.4',
    storageEncrypted: true,
    kmsKeyId: `arn:aws:kms:${SOURCE_REGION}:${ACCOUNT}:key/source-key`,
    createdAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

/** The state as SnapshotCheck returns it for the default config (cross-region, target replaced). */
export function makeState(overrides: Partial<PipelineState> = {}): PipelineState {
  return {
    operationId: OPERATION_ID,
    executionArn: EXECUTION_ARN,
    startedAt: '2026-11-22T10:00:00.000Z',
    sourceClusterIdentifier: 'prod-db',
    sourceRegion: SOURCE_REGION,
    targetClusterIdentifier: 'staging-db',
    targetRegion: TARGET_REGION,
    snapshot: makeSnapshotInfo(),
    copyRequired: true,
    replaceTarget: true,
    restoreSnapshotIdentifier: 'staging-db-op-1',
    ...overrides,
  };
}

/** An ISO time `seconds` ago. */
export function secondsAgo(seconds: number): string {
  return new Date(Date.now() - seconds * 1000).toISOString();
}

/** An error shaped like an AWS SDK v3 service exception. */
export function awsError(name: string, message = `${name} raised by the service`, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode: fault === 'server' ? 500 : 400, attempts: 1 },
  });
}

/** The tags this pipeline puts on what it creates for an operation. */
export function ownTags(operationId = OPERATION_ID, snapshotIdentifier = SOURCE_SNAPSHOT_ID) {
  return [
    { Key: PipelineTag.PIPELINE, Value: PIPELINE_ID },
    { Key: PipelineTag.OPERATION_ID, Value: operationId },
    { Key: PipelineTag.SOURCE_SNAPSHOT, Value: snapshotIdentifier },
  ];
}

/** Captures every console line the handlers log, and silences them. */
export function captureLogs(): { lines: string[]; json: () => any[] } {
  const lines: string[] = [];
  const sink = (...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, method).mockImplementation(sink);
  }
  const writes = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  void writes;
  return {
    lines,
    json: () => lines.flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    }),
  };
}

/** The audit items the handler wrote (PutCommand on the audit table). */
export function auditItems(ddbMock: AwsStub<any, any, any>, table = 'audit-table'): Record<string, any>[] {
  return ddbMock.commandCalls(PutCommand)
    .map((c) => c.args[0].input)
    .filter((input) => input.TableName === table)
    .map((input) => input.Item as Record<string, any>);
}

/** Everything sent to the given mocked clients, as one JSON text. */
export function sentText(...mocks: AwsStub<any, any, any>[]): string {
  return JSON.stringify(mocks.flatMap((m) => m.calls().map((c) => (c.args[0] as { input: unknown }).input)));
}

/** The document client type the handlers use, re-exported for `mockClient`. */
export { DynamoDBDocumentClient };

/**
 * The usual per-test setup of a handler test: fresh SDK mocks (DynamoDB writes succeed), captured logs,
 * the default configuration and no jitter on the waits (`Math.random` 0.5); spies restored after each test.
 */
export function resetBetweenTests(rdsMock: AwsStub<any, any, any>, ddbMock: AwsStub<any, any, any>): void {
  beforeEach(() => {
    rdsMock.reset();
    ddbMock.reset();
    ddbMock.onAnyCommand().resolves({});
    holdLock(ddbMock);
    captureLogs();
    useConfig();
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
  });
  afterEach(() => jest.restoreAllMocks());
}

/**
 * Makes the consistent read of the target's lock find it held by `holder` (default this operation and execution),
 * as every step that changes something checks first; `'free'` finds no lock and `last` as the last operation.
 */
export function holdLock(
  ddbMock: AwsStub<any, any, any>,
  holder: { operationId: string; executionArn: string } | 'free' = { operationId: OPERATION_ID, executionArn: EXECUTION_ARN },
  last?: { operationId: string; executionArn: string },
  target = 'staging-db',
): void {
  ddbMock.on(GetCommand).callsFake((input: { Key: Record<string, string> }) => {
    const key = input.Key.operation_id;
    if (key === `LOCK#${target}` && holder !== 'free') {
      return { Item: { operation_id: key, holder_operation_id: holder.operationId, holder_execution_arn: holder.executionArn, acquired_at: '2026-11-22T10:00:00.000Z' } };
    }
    if (key === `LAST#${target}` && last) {
      return { Item: { operation_id: key, last_operation_id: last.operationId, last_execution_arn: last.executionArn, acquired_at: '2026-11-22T12:00:00.000Z' } };
    }
    return {};
  });
}

/** The users setup-db-users gets by default (the SetupDbUsers task's `users` parameter). */
export const DEFAULT_DB_USERS: DbUserSpec[] = [{
  username: 'app_user',
  secretArn: USER_SECRET_ARN,
  usernameKey: 'username',
  passwordKey: 'password',
  privilege: DatabasePrivilege.READ_WRITE,
  databases: ['app'],
  schemas: ['public'],
}];

/** This operation's copy in the target region (what copySnapshotIdentifier gives for the default state). */
export const COPY_ID = copySnapshotIdentifier('staging-db', 'op-1');
export const COPY_ARN = `arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:${COPY_ID}`;

/** `$.copy` of this operation: a finished copy by default. */
export function makeCopyProgress(overrides: Partial<CopyProgress> = {}): CopyProgress {
  return {
    done: true,
    status: 'available',
    attempt: 3,
    waitStartedAt: '2026-11-22T10:01:00.000Z',
    nextWaitSeconds: 100,
    snapshotIdentifier: COPY_ID,
    snapshotArn: COPY_ARN,
    kmsKeyId: 'copy-key',
    ...overrides,
  };
}

/** `$.restore` of a finished restore: the cluster is available and its master password reset. */
export function makeRestoreProgress(overrides: Partial<RestoreProgress> = {}): RestoreProgress {
  return {
    done: true,
    status: 'available',
    attempt: 5,
    waitStartedAt: '2026-11-22T10:05:00.000Z',
    nextWaitSeconds: 300,
    clusterIdentifier: 'staging-db',
    clusterArn: 'arn:cluster',
    instanceIdentifier: 'staging-db-writer',
    masterPasswordReset: true,
    endpoint: 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com',
    port: 5432,
    engineVersion: '16.4',
    masterUsername: 'admin',
    ...overrides,
  };
}

export const STATE_MACHINE_ARN = `arn:aws:states:${TARGET_REGION}:${ACCOUNT}:stateMachine:restore`;

/**
 * A Step Functions execution status change as EventBridge delivers it (with the fields the handler does not
 * read, too): this operation's execution, started 10:00 and stopped 11:00.
 */
export function makeStatusChangeEvent(
  status = 'ABORTED', detail: Partial<ExecutionStatusChangeDetail> & Record<string, unknown> = {},
): ExecutionStatusChangeEvent & Record<string, unknown> {
  const event = statusChangeEvent({
    executionArn: EXECUTION_ARN,
    stateMachineArn: STATE_MACHINE_ARN,
    name: OPERATION_ID,
    status,
    startDate: Date.parse('2026-11-22T10:00:00.000Z'),
    stopDate: Date.parse('2026-11-22T11:00:00.000Z'),
    account: ACCOUNT,
    region: TARGET_REGION,
    id: 'c1c7e1a2-0000-4000-8000-000000000001',
  });
  // Overrides may be malformed on purpose (the handler's validation is under test).
  return { ...event, detail: { ...event.detail, ...detail } };
}
