import {
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT, auditItems, awsError, DynamoDBDocumentClient, holdLock, makeState, ownTags, resetBetweenTests, TARGET_REGION, useConfig } from './support/factories';
import { handler } from '../../lambda-src/restore-snapshot';
import { PipelineErrorName, PipelineTag } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const CLUSTER_ARN = `arn:aws:rds:${TARGET_REGION}:${ACCOUNT}:cluster:staging-db`;

const cluster = (overrides: Record<string, unknown> = {}) => ({ DBClusterIdentifier: 'staging-db', DBClusterArn: CLUSTER_ARN, Status: 'creating', TagList: ownTags(), ...overrides });
const instance = (overrides: Record<string, unknown> = {}) => ({
  DBInstanceIdentifier: 'staging-db-writer', DBClusterIdentifier: 'staging-db', DBInstanceStatus: 'creating', TagList: ownTags(), ...overrides,
});
const nothingYet = () => {
  rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
  rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault'));
};

resetBetweenTests(rdsMock, ddbMock);

describe('restore-snapshot', () => {
  test('restores the cluster with every setting, creates the tagged writer, and starts the wait loop', async () => {
    nothingYet();
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).resolves({ DBCluster: cluster() });
    rdsMock.on(CreateDBInstanceCommand).resolves({ DBInstance: instance() });
    useConfig({
      restore: { ...useConfig().restore, engineVersion: '16.6', clusterParameterGroupName: 'custom-pg', deletionProtection: true },
    });

    const out = await handler(makeState());

    const restore = rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input;
    expect(restore).toMatchObject({
      DBClusterIdentifier: 'staging-db',
      SnapshotIdentifier: 'staging-db-op-1',
      Engine: 'aurora-postgresql',
      EngineVersion: '16.6',
      DBSubnetGroupName: 'db-subnets',
      VpcSecurityGroupIds: ['sg-123'],
      KmsKeyId: `arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/cluster-key`,
      DBClusterParameterGroupName: 'custom-pg',
      DeletionProtection: true,
      Port: 5432,
      CopyTagsToSnapshot: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
    });
    const expectedTags = [
      { Key: 'team', Value: 'data' },
      { Key: 'env', Value: 'staging' },
      { Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' },
      { Key: PipelineTag.OPERATION_ID, Value: 'op-1' },
      { Key: PipelineTag.SOURCE_SNAPSHOT, Value: 'prod-db-2026-11-01' },
    ];
    expect(restore.Tags).toEqual(expect.arrayContaining(expectedTags));
    const create = rdsMock.commandCalls(CreateDBInstanceCommand)[0].args[0].input;
    expect(create).toMatchObject({ DBInstanceIdentifier: 'staging-db-writer', DBClusterIdentifier: 'staging-db', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' });
    expect(create.Tags).toEqual(expect.arrayContaining(expectedTags));
    expect(out).toMatchObject({
      done: false,
      status: 'creating',
      attempt: 0,
      nextWaitSeconds: 30,
      clusterIdentifier: 'staging-db',
      clusterArn: CLUSTER_ARN,
      instanceIdentifier: 'staging-db-writer',
      masterPasswordReset: false,
    });
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'RestoreSnapshot', outcome: 'IN_PROGRESS', details: { restoreSnapshotIdentifier: 'staging-db-op-1' } });
  });

  test('a provisioned class gets no serverless scaling; no engine version override is sent when unset', async () => {
    const base = useConfig();
    useConfig({ restore: { ...base.restore, instanceClass: 'db.r6g.large' } });
    nothingYet();
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).resolves({ DBCluster: cluster() });
    rdsMock.on(CreateDBInstanceCommand).resolves({ DBInstance: instance() });
    await handler(makeState());
    const restore = rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input;
    expect(restore.ServerlessV2ScalingConfiguration).toBeUndefined();
    expect(restore).not.toHaveProperty('EngineVersion');
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)[0].args[0].input.DBInstanceClass).toBe('db.r6g.large');
  });

  test('restores from the source snapshot ARN when there is no copy', async () => {
    nothingYet();
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).resolves({ DBCluster: cluster() });
    rdsMock.on(CreateDBInstanceCommand).resolves({ DBInstance: instance() });
    await handler(makeState({ copyRequired: false, restoreSnapshotIdentifier: 'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:rds:prod-db-x' }));
    expect(rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input.SnapshotIdentifier)
      .toBe('arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:rds:prod-db-x');
  });

  test('a second call adopts this operation\'s cluster and writer and creates nothing', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'available' })] });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    const out = await handler(makeState());
    expect(rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
    expect(out).toMatchObject({ done: false, status: 'available', clusterArn: CLUSTER_ARN });
  });

  test('a retry adopts its own writer when the target is configured with capitals (RDS reports identifiers in lower case)', async () => {
    useConfig({ targetClusterIdentifier: 'Staging-DB' });
    holdLock(ddbMock, undefined, undefined, 'Staging-DB');
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ Status: 'available' })] });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBClusterIdentifier: 'staging-db' })] });
    await expect(handler(makeState())).resolves.toMatchObject({ done: false, status: 'available' });
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
  });

  test('a retry after the cluster was restored creates only the missing writer', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault'));
    rdsMock.on(CreateDBInstanceCommand).resolves({ DBInstance: instance() });
    await handler(makeState());
    expect(rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)).toHaveLength(1);
  });

  test('DBClusterAlreadyExistsFault from a race: adopted when ours', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejectsOnce(awsError('DBClusterNotFoundFault')).resolves({ DBClusters: [cluster()] });
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).rejects(awsError('DBClusterAlreadyExistsFault'));
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance()] });
    expect(await handler(makeState())).toMatchObject({ clusterIdentifier: 'staging-db' });
  });

  test('TargetAlreadyExists: DBClusterAlreadyExistsFault and the cluster is someone else\'s', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejectsOnce(awsError('DBClusterNotFoundFault')).resolves({ DBClusters: [cluster({ TagList: [] })] });
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).rejects(awsError('DBClusterAlreadyExistsFault'));
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.TARGET_ALREADY_EXISTS);
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)).toHaveLength(0);
  });

  test('TargetAlreadyExists: a cluster of another operation is never adopted', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster({ TagList: ownTags('op-0') })] });
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.TARGET_ALREADY_EXISTS });
  });

  test('TargetAlreadyExists: the writer identifier is used by another cluster', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance({ DBClusterIdentifier: 'other-db' })] });
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.TARGET_ALREADY_EXISTS);
    expect(err.message).toContain('other-db');
  });

  test.each([
    ['KMSKeyNotAccessibleFault', PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE],
    ['DBClusterSnapshotNotFoundFault', PipelineErrorName.SNAPSHOT_NOT_FOUND],
    ['InvalidDBClusterSnapshotStateFault', PipelineErrorName.RESOURCE_BUSY],
    ['DBSubnetGroupNotFoundFault', PipelineErrorName.RESTORE_FAILED],
    ['InsufficientDBClusterCapacityFault', PipelineErrorName.RESTORE_FAILED],
    ['StorageQuotaExceededFault', PipelineErrorName.RESTORE_FAILED],
    ['InvalidParameterCombination', PipelineErrorName.RESTORE_FAILED],
    ['ThrottlingException', 'ThrottlingException'],
  ])('%s from RestoreDBClusterFromSnapshot surfaces as %s', async (fault, expected) => {
    nothingYet();
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).rejects(awsError(fault));
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(expected);
    if (expected === PipelineErrorName.RESTORE_FAILED) expect(err.message).toContain(fault);
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'FAILED', details: { errorName: expected } });
  });

  test('InvalidDBClusterStateFault creating the writer is ResourceBusy (retried; the retry adopts the cluster)', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [cluster()] });
    rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault'));
    rdsMock.on(CreateDBInstanceCommand).rejects(awsError('InvalidDBClusterStateFault'));
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.RESOURCE_BUSY });
  });
});
