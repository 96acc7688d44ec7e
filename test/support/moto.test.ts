/*
 * The moto launcher and the moto 5.2 behaviours the e2e harness and the handlers rely on, checked against
 * the real server through AWS SDK v3 (what the handlers use).
 */
import {
  CopyDBClusterSnapshotCommand,
  CreateDBClusterCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DescribeAccountAttributesCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  StartDBClusterCommand,
  StopDBClusterCommand,
} from '@aws-sdk/client-rds';
import { CALLER_ARN_HEADER, motoClientEnv, startMoto, type MotoServer } from './moto';
import { awsJsonCall, awsQueryCall } from './moto-json-api';

jest.setTimeout(600_000);

const SOURCE = 'us-east-1';
const TARGET = 'eu-west-1';

function rdsClient(server: MotoServer, region: string): RDSClient {
  return new RDSClient({ region, endpoint: server.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail, it succeeded');
}

async function createSourceCluster(rds: RDSClient, id: string, extra: Record<string, unknown> = {}) {
  await rds.send(new CreateDBClusterCommand({
    DBClusterIdentifier: id,
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    MasterUsername: 'postgres',
    MasterUserPassword: 'source-password-1',
    StorageEncrypted: true,
    ...extra,
  }));
}

/** The source account of the cross-account tests; moto's default account is the pipeline's. */
const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '123456789012';

/** Clients acting in account A, as its administrator (the launcher's account-credentials route). */
async function accountA(server: MotoServer) {
  const creds = await server.accountCredentials(ACCOUNT_A);
  const rds = (region: string) => new RDSClient({ region, endpoint: server.endpoint, credentials: creds, maxAttempts: 1 });
  const target = (region: string) => ({ endpoint: server.endpoint, region, accessKeyId: creds.accessKeyId });
  return { creds, rds, target };
}

/** A role in account A trusting `principal` (an AWS principal value) to assume it, optionally with more statements. */
async function roleInA(server: MotoServer, name: string, principal: string, extra: unknown[] = []): Promise<string> {
  const a = await accountA(server);
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }, ...extra] };
  const out = await awsQueryCall(a.target('us-east-1'), 'iam', 'CreateRole', { RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) });
  return out.text('Arn')!;
}

/** A key of account A in `region` whose policy lets account B use it through RDS of `viaRegion` (or nobody else: `viaRegion` undefined). */
async function keyInA(server: MotoServer, region: string, viaRegion?: string): Promise<string> {
  const a = await accountA(server);
  const statements: unknown[] = [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT_A}:root` }, Action: 'kms:*', Resource: '*' }];
  if (viaRegion) {
    statements.push({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT_B}:root` },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': `rds.${viaRegion}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT_B }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
  }
  const out = await awsJsonCall(a.target(region), 'kms', 'CreateKey', { Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
  return out.KeyMetadata.Arn;
}

/** A snapshot `snap` of a cluster `src` of account A in `region`, encrypted with `kmsKeyId`, shared with account B. */
async function sharedSnapshotOfA(server: MotoServer, region: string, kmsKeyId?: string): Promise<string> {
  const rds = (await accountA(server)).rds(region);
  await createSourceCluster(rds, 'src', kmsKeyId ? { KmsKeyId: kmsKeyId } : {});
  const snap = (await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }))).DBClusterSnapshot!;
  await rds.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: 'snap', AttributeName: 'restore', ValuesToAdd: [ACCOUNT_B] }));
  return snap.DBClusterSnapshotArn!;
}

async function clusterOf(rds: RDSClient, id: string) {
  return (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters![0];
}

describe('moto launcher', () => {
  let moto: MotoServer;
  let src: RDSClient;
  let tgt: RDSClient;

  beforeAll(async () => {
    moto = await startMoto();
    src = rdsClient(moto, SOURCE);
    tgt = rdsClient(moto, TARGET);
  });
  afterAll(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
  });

  test('listens on 127.0.0.1 on a free port and reports the fixes it applied', () => {
    expect(moto.endpoint).toBe(`http://127.0.0.1:${moto.port}`);
    expect(moto.port).toBeGreaterThan(0);
    expect([...moto.fixes].sort()).toEqual([
      'account-attributes', 'automated-snapshot-name-collision', 'copy-kms-key-of-unencrypted-snapshot', 'failed-modify-keeps-cluster', 'rename-keeps-instances',
      'rename-onto-existing-cluster', 'rename-reports-renaming', 'restore-deletion-protection', 'restore-with-kms-key-encrypts',
      'snapshot-arn-as-identifier', 'stopped-cluster-cannot-be-deleted',
      'assume-role-trust', 'share-needs-customer-key', 'shared-key-policy', 'shared-snapshot-arn',
    ].sort());
    expect(motoClientEnv(moto)).toEqual({ AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
  });

  test('DescribeAccountAttributes reports the default quotas with real usage, or the quota a test holds (fix account-attributes)', async () => {
    const quotaOf = async (client: RDSClient, name: string) =>
      (await client.send(new DescribeAccountAttributesCommand({}))).AccountQuotas!.find((q) => q.AccountQuotaName === name);
    await createSourceCluster(src, 'q1');
    await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'q1', DBClusterSnapshotIdentifier: 'q1-snap' }));
    expect(await quotaOf(src, 'DBClusters')).toEqual({ AccountQuotaName: 'DBClusters', Used: 1, Max: 40 });
    expect(await quotaOf(src, 'ManualClusterSnapshots')).toEqual({ AccountQuotaName: 'ManualClusterSnapshots', Used: 1, Max: 100 });
    await moto.holdQuota('ManualClusterSnapshots', { used: 100 }, { region: TARGET });
    expect(await quotaOf(tgt, 'ManualClusterSnapshots')).toEqual({ AccountQuotaName: 'ManualClusterSnapshots', Used: 100, Max: 100 });
    expect(await quotaOf(src, 'ManualClusterSnapshots')).toMatchObject({ Used: 1 });
    await moto.releaseAll();
    expect(await quotaOf(tgt, 'ManualClusterSnapshots')).toMatchObject({ Used: 0, Max: 100 });
  });

  test('one server serves every region, separately; reset forgets everything', async () => {
    await createSourceCluster(src, 'src');
    expect((await src.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier)).toEqual(['src']);
    expect((await tgt.send(new DescribeDBClustersCommand({}))).DBClusters).toEqual([]);
    await moto.reset();
    expect((await src.send(new DescribeDBClustersCommand({}))).DBClusters).toEqual([]);
  });

  test('a cluster reports creating only in the create/restore response, then available', async () => {
    const created = await src.send(new CreateDBClusterCommand({
      DBClusterIdentifier: 'c1', Engine: 'aurora-postgresql', MasterUsername: 'postgres', MasterUserPassword: 'password-123',
    }));
    expect(created.DBCluster!.Status).toBe('creating');
    expect((await clusterOf(src, 'c1')).Status).toBe('available');
  });

  test('holdClusterStatus keeps a status until released, also for a cluster created later', async () => {
    await moto.holdClusterStatus('c2', 'creating');
    await createSourceCluster(src, 'c2');
    expect((await clusterOf(src, 'c2')).Status).toBe('creating');
    expect((await clusterOf(src, 'c2')).Status).toBe('creating');
    await moto.holdClusterStatus('c2', 'failed');
    expect((await clusterOf(src, 'c2')).Status).toBe('failed');
    await moto.release('cluster', 'c2');
    const statuses = [(await clusterOf(src, 'c2')).Status, (await clusterOf(src, 'c2')).Status];
    // moto's own one-shot `creating` was not consumed while held.
    expect(statuses).toEqual(['creating', 'available']);
  });

  test('a hold can be limited to one region', async () => {
    await moto.holdClusterStatus('same', 'modifying', { region: TARGET });
    await createSourceCluster(src, 'same');
    await createSourceCluster(tgt, 'same');
    expect((await clusterOf(src, 'same')).Status).toBe('available');
    expect((await clusterOf(tgt, 'same')).Status).toBe('modifying');
  });

  test('overrideCluster reports another endpoint, port and pending modifications', async () => {
    await createSourceCluster(tgt, 'db');
    const before = await clusterOf(tgt, 'db');
    expect(before.Endpoint).toMatch(/^db\.cluster-[a-z0-9]+\.eu-west-1\.rds\.amazonaws\.com$/);
    expect(before.PendingModifiedValues).toBeUndefined();
    await moto.overrideCluster('db', { endpoint: '127.0.0.1', readerEndpoint: '127.0.0.1', port: 6543, pendingModifiedValues: { MasterUserPassword: '****' } });
    const after = await clusterOf(tgt, 'db');
    expect(after).toMatchObject({ Endpoint: '127.0.0.1', ReaderEndpoint: '127.0.0.1', Port: 6543, PendingModifiedValues: { MasterUserPassword: '****' }, Status: 'available' });
    await moto.releaseAll();
    expect(await clusterOf(tgt, 'db')).toMatchObject({ Endpoint: before.Endpoint, Port: 5432 });
  });

  test('clusterCredentials tells the master password that create, restore and modify set, per region', async () => {
    await createSourceCluster(src, 'src');
    expect(await moto.clusterCredentials('src', SOURCE)).toEqual({ masterUsername: 'postgres', masterUserPassword: 'source-password-1' });
    expect(await moto.clusterCredentials('src', TARGET)).toBeUndefined();
    await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
    // A restored cluster starts with the source's master password, as in RDS.
    await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql' }));
    expect(await moto.clusterCredentials('tgt', SOURCE)).toEqual({ masterUsername: 'postgres', masterUserPassword: 'source-password-1' });
    await src.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'tgt', MasterUserPassword: 'target-password-2', ApplyImmediately: true }));
    expect(await moto.clusterCredentials('tgt', SOURCE)).toEqual({ masterUsername: 'postgres', masterUserPassword: 'target-password-2' });
    expect(await moto.clusterCredentials('src', SOURCE)).toMatchObject({ masterUserPassword: 'source-password-1' });
    await expect(moto.clusterCredentials('', SOURCE)).rejects.toThrow(/non-empty id and region/);
  });

  test('holdSnapshotStatus reports a copy in progress; snapshots are otherwise always available at 100 %', async () => {
    await createSourceCluster(src, 'src');
    const created = await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
    expect(created.DBClusterSnapshot).toMatchObject({ Status: 'available', PercentProgress: 100 });
    await moto.holdSnapshotStatus('snap', 'copying', 40);
    const describe = async () => (await src.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'snap' }))).DBClusterSnapshots![0];
    expect(await describe()).toMatchObject({ Status: 'copying', PercentProgress: 40 });
    await moto.release('snapshot', 'snap');
    expect(await describe()).toMatchObject({ Status: 'available', PercentProgress: 100 });
  });

  test('holdInstanceStatus holds a writer instance', async () => {
    await createSourceCluster(tgt, 'db');
    await moto.holdInstanceStatus('db-writer', 'creating');
    await tgt.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'db-writer', DBClusterIdentifier: 'db', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' }));
    const status = async () => (await tgt.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'db-writer' }))).DBInstances![0].DBInstanceStatus;
    expect(await status()).toBe('creating');
    await moto.release('instance', 'db-writer');
    expect(await status()).toBe('available');
  });

  test('the control API rejects a malformed override, naming what it needs', async () => {
    await expect(moto.overrideCluster('x', {})).rejects.toThrow(/nothing to override/);
    await expect(moto.release('bogus' as 'cluster', 'x')).rejects.toThrow(/kind must be one of/);
  });

  test('copy across regions: the SDK presigns from the source ARN (SDK v3 has no SourceRegion input); KMS key of the target region', async () => {
    await createSourceCluster(src, 'src');
    const snap = (await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }))).DBClusterSnapshot!;
    const targetKey = (await awsJsonCall({ endpoint: moto.endpoint, region: TARGET }, 'kms', 'CreateKey', {})).KeyMetadata;
    const sourceKey = (await awsJsonCall({ endpoint: moto.endpoint, region: SOURCE }, 'kms', 'CreateKey', {})).KeyMetadata;

    const wrongKey = await errorOf(tgt.send(new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'copy', KmsKeyId: sourceKey.Arn,
    })));
    expect(wrongKey.name).toBe('KMSKeyNotAccessibleFault');

    const sentBodies: string[] = [];
    tgt.middlewareStack.add((next) => async (args) => {
      sentBodies.push(String((args.request as { body?: unknown }).body ?? ''));
      return next(args);
    }, { step: 'finalizeRequest', name: 'captureBody' });
    const copy = (await tgt.send(new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn,
      TargetDBClusterSnapshotIdentifier: 'copy',
      KmsKeyId: targetKey.Arn,
      CopyTags: true,
      Tags: [{ Key: 'aurora-restore-pipeline:operation-id', Value: 'op1' }],
    }))).DBClusterSnapshot!;
    expect(copy).toMatchObject({
      DBClusterSnapshotArn: `arn:aws:rds:${TARGET}:123456789012:cluster-snapshot:copy`,
      KmsKeyId: targetKey.Arn,
      Status: 'available',
      PercentProgress: 100,
      TagList: [{ Key: 'aurora-restore-pipeline:operation-id', Value: 'op1' }],
    });
    tgt.middlewareStack.remove('captureBody');
    expect(sentBodies).toHaveLength(1);
    const presigned = new URLSearchParams(sentBodies[0]).get('PreSignedUrl');
    expect(presigned).toMatch(/^https:\/\/rds\.us-east-1\.amazonaws\.com(:\d+)?\/\?Action=CopyDBClusterSnapshot&/);
    expect(presigned).toContain('DestinationRegion=eu-west-1');
    const again = await errorOf(tgt.send(new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'copy', KmsKeyId: targetKey.Arn,
    })));
    expect(again.name).toBe('DBClusterSnapshotAlreadyExistsFault');
  });

  test('an automated snapshot (rds:<cluster>-<minute>) is listed and can be copied by ARN', async () => {
    await createSourceCluster(src, 'src');
    const all = (await src.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'src', SnapshotType: 'automated' }))).DBClusterSnapshots!;
    expect(all).toHaveLength(1);
    expect(all[0].DBClusterSnapshotIdentifier).toMatch(/^rds:src-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$/);
    const targetKey = (await awsJsonCall({ endpoint: moto.endpoint, region: TARGET }, 'kms', 'CreateKey', {})).KeyMetadata;
    const copy = await tgt.send(new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: all[0].DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'auto-copy', KmsKeyId: targetKey.KeyId,
    }));
    expect(copy.DBClusterSnapshot!.SnapshotType).toBe('manual');
  });

  test('restore by ARN (fix snapshot-arn-as-identifier), with tags, fake subnet group and security groups', async () => {
    await createSourceCluster(src, 'src');
    const snap = (await src.send(new CreateDBClusterSnapshotCommand({
      DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap',
    }))).DBClusterSnapshot!;
    const byArn = (await src.send(new DescribeDBClusterSnapshotsCommand({
      DBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn,
    }))).DBClusterSnapshots!;
    expect(byArn.map((s) => s.DBClusterSnapshotIdentifier)).toEqual(['snap']);
    // An ARN of another region names nothing there, as in RDS.
    expect((await errorOf(tgt.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');

    const restored = (await src.send(new RestoreDBClusterFromSnapshotCommand({
      DBClusterIdentifier: 'tgt',
      SnapshotIdentifier: snap.DBClusterSnapshotArn,
      Engine: 'aurora-postgresql',
      DBSubnetGroupName: 'no-such-group',
      VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      Port: 5432,
      Tags: [{ Key: 'aurora-restore-pipeline:pipeline', Value: 'p1' }],
    }))).DBCluster!;
    expect(restored).toMatchObject({ Status: 'creating', DBClusterIdentifier: 'tgt', MasterUsername: 'postgres', EngineVersion: '16.4', Port: 5432 });
    expect((await clusterOf(src, 'tgt')).TagList).toEqual([{ Key: 'aurora-restore-pipeline:pipeline', Value: 'p1' }]);
  });

  test('restore of an existing identifier silently replaces that cluster (RDS answers DBClusterAlreadyExistsFault)', async () => {
    await createSourceCluster(src, 'src');
    await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
    await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql', Tags: [{ Key: 'first', Value: '1' }] }));
    await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql', Tags: [{ Key: 'second', Value: '2' }] }));
    expect((await clusterOf(src, 'tgt')).TagList).toEqual([{ Key: 'second', Value: '2' }]);
  });

  test('deletion: refused while instances exist and while protected; instances and clusters vanish at once', async () => {
    await createSourceCluster(tgt, 'db', { DeletionProtection: true });
    await tgt.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'db-1', DBClusterIdentifier: 'db', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' }));
    expect((await clusterOf(tgt, 'db')).DBClusterMembers).toEqual([expect.objectContaining({ DBInstanceIdentifier: 'db-1', IsClusterWriter: true })]);
    expect(await errorOf(tgt.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'db', SkipFinalSnapshot: true }))))
      .toMatchObject({ name: 'InvalidParameterCombination', message: expect.stringMatching(/deletion protection/) });
    await tgt.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', DeletionProtection: false, ApplyImmediately: true }));
    expect(await errorOf(tgt.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'db', SkipFinalSnapshot: true }))))
      .toMatchObject({ name: 'InvalidDBClusterStateFault' });
    const deleted = await tgt.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'db-1' }));
    expect(deleted.DBInstance!.DBInstanceStatus).toBe('deleting');
    expect((await errorOf(tgt.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'db-1' })))).name).toBe('DBInstanceNotFoundFault');
    await tgt.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'db', FinalDBSnapshotIdentifier: 'db-final-op1' }));
    expect(await errorOf(tgt.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'db' })))).toMatchObject({ name: 'DBClusterNotFoundFault', status: 404 });
    const final = (await tgt.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'db-final-op1' }))).DBClusterSnapshots!;
    expect(final).toHaveLength(1);
  });

  test('restoring an identifier deleted in the same UTC minute works (fix automated-snapshot-name-collision)', async () => {
    await createSourceCluster(src, 'src');
    await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
    await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql' }));
    await src.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'tgt', SkipFinalSnapshot: true }));
    await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql' }));
    expect((await clusterOf(src, 'tgt')).Status).toBe('available');
  });

  test('restore applies DeletionProtection=false over a protected source (fix restore-deletion-protection)', async () => {
    await createSourceCluster(src, 'src', { DeletionProtection: true });
    await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
    const r = await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql', DeletionProtection: false }));
    expect(r.DBCluster!.DeletionProtection).toBe(false);
    const r2 = await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt2', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql', DeletionProtection: true }));
    expect(r2.DBCluster!.DeletionProtection).toBe(true);
  });

  test('a rejected password change leaves the cluster in place (fix failed-modify-keeps-cluster); a valid one applies at once', async () => {
    await createSourceCluster(tgt, 'db');
    expect(await errorOf(tgt.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', MasterUserPassword: 'short', ApplyImmediately: true }))))
      .toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/shorter than 8/) });
    expect((await clusterOf(tgt, 'db')).Status).toBe('available');
    const ok = await tgt.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'db', MasterUserPassword: 'long-enough-1', ApplyImmediately: true }));
    expect(ok.DBCluster!.PendingModifiedValues).toBeUndefined();
    expect(ok.DBCluster!.Status).toBe('available');
  });

  test('an unencrypted snapshot is copied across regions only without KmsKeyId (fix copy-kms-key-of-unencrypted-snapshot); the restore encrypts', async () => {
    await createSourceCluster(src, 'plain', { StorageEncrypted: false });
    const snap = (await src.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'plain', DBClusterSnapshotIdentifier: 'plain-snap' }))).DBClusterSnapshot!;
    expect(snap.StorageEncrypted).toBe(false);
    const key = `arn:aws:kms:${TARGET}:123456789012:key/00000000-0000-4000-8000-000000000001`;
    expect(await errorOf(tgt.send(new CopyDBClusterSnapshotCommand({ SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'copy', KmsKeyId: key }))))
      .toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining('unencrypted') });
    const copy = (await tgt.send(new CopyDBClusterSnapshotCommand({ SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'copy' }))).DBClusterSnapshot!;
    expect(copy.StorageEncrypted).toBe(false);
    // Restored with a key, the cluster is encrypted (fix restore-with-kms-key-encrypts).
    const realKey = (await awsJsonCall({ endpoint: moto.endpoint, region: TARGET }, 'kms', 'CreateKey', {})).KeyMetadata;
    const restored = await tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'enc', SnapshotIdentifier: 'copy', Engine: 'aurora-postgresql', KmsKeyId: realKey.Arn }));
    expect(restored.DBCluster).toMatchObject({ StorageEncrypted: true, KmsKeyId: realKey.Arn });
  });

  test('a stopped cluster and its instances cannot be deleted (fix stopped-cluster-cannot-be-deleted); once started they can', async () => {
    await createSourceCluster(tgt, 'stopped', { StorageEncrypted: false });
    await tgt.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'stopped-w', DBClusterIdentifier: 'stopped', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' }));
    await tgt.send(new StopDBClusterCommand({ DBClusterIdentifier: 'stopped' }));
    expect((await clusterOf(tgt, 'stopped')).Status).toBe('stopped');
    expect((await errorOf(tgt.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'stopped-w' })))).name).toBe('InvalidDBInstanceStateFault');
    expect((await errorOf(tgt.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'stopped', SkipFinalSnapshot: true })))).name).toBe('InvalidDBClusterStateFault');
    await tgt.send(new StartDBClusterCommand({ DBClusterIdentifier: 'stopped' }));
    await tgt.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'stopped-w' }));
    await tgt.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'stopped', SkipFinalSnapshot: true }));
  });

  test('a rename (fixes rename-*): renaming once under the new name, instances follow, endpoint and ARN follow, tags stay; onto an existing name refused', async () => {
    await createSourceCluster(tgt, 'old', { StorageEncrypted: false, Tags: [{ Key: 'owner', Value: 'me' }] });
    await tgt.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'old-w', DBClusterIdentifier: 'old', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' }));
    await createSourceCluster(tgt, 'other', { StorageEncrypted: false });
    expect((await errorOf(tgt.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'old', NewDBClusterIdentifier: 'other', ApplyImmediately: true })))).name)
      .toBe('DBClusterAlreadyExistsFault');
    expect((await clusterOf(tgt, 'other')).DBClusterIdentifier).toBe('other');

    await tgt.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'old', NewDBClusterIdentifier: 'new', ApplyImmediately: true }));
    expect((await errorOf(tgt.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'old' })))).name).toBe('DBClusterNotFoundFault');
    const renaming = await clusterOf(tgt, 'new');
    expect(renaming.Status).toBe('renaming');
    const renamed = await clusterOf(tgt, 'new');
    expect(renamed.Status).toBe('available');
    expect(renamed.Endpoint).toMatch(/^new\.cluster-/);
    expect(renamed.DBClusterArn).toMatch(/:cluster:new$/);
    expect(renamed.TagList).toEqual([{ Key: 'owner', Value: 'me' }]);
    expect(renamed.DBClusterMembers!.map((m) => m.DBInstanceIdentifier)).toEqual(['old-w']);
    expect((await tgt.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'old-w' }))).DBInstances![0].DBClusterIdentifier).toBe('new');
  });

  test('AssumeRole needs a role of that account whose trust policy allows the caller (fix assume-role-trust); its keys act in that account', async () => {
    const sts = (headers: Record<string, string> = {}, accessKeyId?: string) => (roleArn: string) =>
      awsQueryCall({ endpoint: moto.endpoint, region: TARGET, accessKeyId }, 'sts', 'AssumeRole', { RoleArn: roleArn, RoleSessionName: 'arp-test' }, headers);
    const trustsB = await roleInA(moto, 'trusts-b', `arn:aws:iam::${ACCOUNT_B}:root`);
    const out = await sts()(trustsB);
    expect(out.text('Arn')).toBe(`arn:aws:sts::${ACCOUNT_A}:assumed-role/trusts-b/arp-test`);
    // The temporary key acts in account A: it sees A's cluster, not B's.
    await createSourceCluster((await accountA(moto)).rds(TARGET), 'in-a');
    await createSourceCluster(tgt, 'in-b');
    const asRole = new RDSClient({
      region: TARGET,
      endpoint: moto.endpoint,
      maxAttempts: 1,
      credentials: { accessKeyId: out.text('AccessKeyId')!, secretAccessKey: out.text('SecretAccessKey')!, sessionToken: out.text('SessionToken')! },
    });
    expect((await asRole.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier)).toEqual(['in-a']);
    expect(await roleInA(moto, 'trusts-b-id', ACCOUNT_B).then(sts())).toBeDefined();

    const denied = (role: string) => expect.objectContaining({
      name: 'AccessDenied', message: expect.stringContaining(`is not authorized to perform: sts:AssumeRole on resource: ${role}`),
    });
    // A role that names another account, or none of the caller's roles, or does not exist, or denies.
    const trustsC = await roleInA(moto, 'trusts-c', 'arn:aws:iam::222222222222:root');
    expect(await errorOf(sts()(trustsC))).toEqual(denied(trustsC));
    const pipelineRole = `arn:aws:iam::${ACCOUNT_B}:role/pipeline-fn`;
    const trustsRole = await roleInA(moto, 'trusts-role', pipelineRole);
    expect(await errorOf(sts()(trustsRole))).toEqual(denied(trustsRole));
    const otherSession = `arn:aws:sts::${ACCOUNT_B}:assumed-role/other/fn`;
    expect(await errorOf(sts({ [CALLER_ARN_HEADER]: otherSession })(trustsRole)))
      .toEqual(expect.objectContaining({ message: expect.stringContaining(`User: ${otherSession} is not authorized to perform: sts:AssumeRole on resource: ${trustsRole}`) }));
    expect((await sts({ [CALLER_ARN_HEADER]: `arn:aws:sts::${ACCOUNT_B}:assumed-role/pipeline-fn/fn` })(trustsRole)).text('Arn')).toMatch(/assumed-role\/trusts-role\//);
    const missing = `arn:aws:iam::${ACCOUNT_A}:role/nobody`;
    expect(await errorOf(sts()(missing))).toEqual(denied(missing));
    const denies = await roleInA(moto, 'denies-b', `arn:aws:iam::${ACCOUNT_B}:root`, [{ Effect: 'Deny', Principal: { AWS: ACCOUNT_B }, Action: 'sts:*' }]);
    expect(await errorOf(sts()(denies))).toEqual(denied(denies));
    // A role's own session may assume a role that trusts that role.
    const chained = await roleInA(moto, 'trusts-trusts-b', trustsB);
    expect((await sts({}, out.text('AccessKeyId'))(chained)).text('Arn')).toMatch(/assumed-role\/trusts-trusts-b\//);
  });

  test('another account\'s snapshot ARN resolves in that account once shared, only in its region; only the owner shares (fix shared-snapshot-arn)', async () => {
    const key = await keyInA(moto, TARGET, TARGET);
    const a = (await accountA(moto)).rds(TARGET);
    await createSourceCluster(a, 'src', { KmsKeyId: key });
    const snap = (await a.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }))).DBClusterSnapshot!;
    const arn = snap.DBClusterSnapshotArn!;
    expect(arn).toBe(`arn:aws:rds:${TARGET}:${ACCOUNT_A}:cluster-snapshot:snap`);
    const describe = () => tgt.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: arn }));
    expect((await errorOf(describe())).name).toBe('DBClusterSnapshotNotFoundFault');
    expect((await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r0', SnapshotIdentifier: arn, Engine: 'aurora-postgresql' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
    await a.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: 'snap', AttributeName: 'restore', ValuesToAdd: [ACCOUNT_B] }));
    expect((await describe()).DBClusterSnapshots![0]).toMatchObject({ DBClusterSnapshotArn: arn, KmsKeyId: key });
    expect((await tgt.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'shared' }))).DBClusterSnapshots!.map((x) => x.DBClusterSnapshotArn)).toEqual([arn]);
    // Restored in B with B's key; copied into B.
    const bKey = (await awsJsonCall({ endpoint: moto.endpoint, region: TARGET }, 'kms', 'CreateKey', {})).KeyMetadata.Arn;
    const restored = await tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r1', SnapshotIdentifier: arn, Engine: 'aurora-postgresql', KmsKeyId: bKey }));
    expect(restored.DBCluster).toMatchObject({ DBClusterArn: `arn:aws:rds:${TARGET}:${ACCOUNT_B}:cluster:r1`, KmsKeyId: bKey, StorageEncrypted: true });
    const copy = await tgt.send(new CopyDBClusterSnapshotCommand({ SourceDBClusterSnapshotIdentifier: arn, TargetDBClusterSnapshotIdentifier: 'copy-in-b', KmsKeyId: bKey }));
    expect(copy.DBClusterSnapshot!.DBClusterSnapshotArn).toBe(`arn:aws:rds:${TARGET}:${ACCOUNT_B}:cluster-snapshot:copy-in-b`);
    // Only the owner changes who it is shared with.
    expect((await errorOf(tgt.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: arn, AttributeName: 'restore', ValuesToAdd: ['222222222222'] })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
    // Unshared, it is gone for B again.
    await a.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: 'snap', AttributeName: 'restore', ValuesToRemove: [ACCOUNT_B] }));
    expect((await errorOf(describe())).name).toBe('DBClusterSnapshotNotFoundFault');

    // Shared from another region, it is usable only in that region.
    const east = await sharedSnapshotOfA(moto, SOURCE, await keyInA(moto, SOURCE, SOURCE));
    expect((await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r2', SnapshotIdentifier: east, Engine: 'aurora-postgresql' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
    expect((await errorOf(tgt.send(new CopyDBClusterSnapshotCommand({ SourceDBClusterSnapshotIdentifier: east, TargetDBClusterSnapshotIdentifier: 'c2' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
    const r3 = await src.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r3', SnapshotIdentifier: east, Engine: 'aurora-postgresql' }));
    expect(r3.DBCluster!.DBClusterArn).toBe(`arn:aws:rds:${SOURCE}:${ACCOUNT_B}:cluster:r3`);
  });

  test('a shared snapshot on the aws/rds key (or encrypted without a key) cannot be restored or copied by the other account (fix share-needs-customer-key)', async () => {
    const awsRds = await moto.awsManagedKey(TARGET, ACCOUNT_A);
    expect(awsRds.arn).toMatch(new RegExp(`^arn:aws:kms:${TARGET}:${ACCOUNT_A}:key/`));
    expect((await awsJsonCall({ ...(await accountA(moto)).target(TARGET) }, 'kms', 'DescribeKey', { KeyId: 'alias/aws/rds' })).KeyMetadata)
      .toMatchObject({ Arn: awsRds.arn, KeyManager: 'AWS' });
    const arn = await sharedSnapshotOfA(moto, TARGET, awsRds.arn);
    const restore = await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: arn, Engine: 'aurora-postgresql' })));
    expect(restore).toMatchObject({ name: 'KMSKeyNotAccessibleFault', message: expect.stringContaining(`The source snapshot KMS key [${awsRds.arn}]`) });
    expect((await errorOf(tgt.send(new CopyDBClusterSnapshotCommand({ SourceDBClusterSnapshotIdentifier: arn, TargetDBClusterSnapshotIdentifier: 'c' })))).name)
      .toBe('KMSKeyNotAccessibleFault');
    await moto.reset();
    const placeholder = await sharedSnapshotOfA(moto, TARGET);
    expect((await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: placeholder, Engine: 'aurora-postgresql' })))).name)
      .toBe('KMSKeyNotAccessibleFault');
  });

  test('restoring a shared snapshot needs its key\'s policy to let the account use it through RDS of that region (fix shared-key-policy)', async () => {
    const restore = (arn: string, id: string) => tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: id, SnapshotIdentifier: arn, Engine: 'aurora-postgresql' }));
    const closed = await sharedSnapshotOfA(moto, TARGET, await keyInA(moto, TARGET));
    expect((await errorOf(restore(closed, 'r1'))).name).toBe('KMSKeyNotAccessibleFault');
    await moto.reset();
    const otherRegion = await sharedSnapshotOfA(moto, TARGET, await keyInA(moto, TARGET, SOURCE));
    expect((await errorOf(restore(otherRegion, 'r2'))).name).toBe('KMSKeyNotAccessibleFault');
    await moto.reset();
    const open = await sharedSnapshotOfA(moto, TARGET, await keyInA(moto, TARGET, TARGET));
    expect((await restore(open, 'r3')).DBCluster!.DBClusterIdentifier).toBe('r3');
  });

  test('account-credentials: one administrator key per account; reset forgets it', async () => {
    const first = await moto.accountCredentials(ACCOUNT_A);
    expect(await moto.accountCredentials(ACCOUNT_A)).toEqual(first);
    expect(first.accessKeyId).not.toBe((await moto.accountCredentials('222222222222')).accessKeyId);
    await expect(moto.accountCredentials('12')).rejects.toThrow(/12-digit account/);
    await moto.reset();
    expect((await moto.accountCredentials(ACCOUNT_A)).accessKeyId).not.toBe(first.accessKeyId);
  });

  test('error names as SDK v3 reports them for what does not exist', async () => {
    expect(await errorOf(tgt.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'nope' })))).toMatchObject({ name: 'DBClusterNotFoundFault', status: 404 });
    expect(await errorOf(tgt.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'nope' })))).toMatchObject({ name: 'DBClusterSnapshotNotFoundFault', status: 404 });
    expect(await errorOf(tgt.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' })))).toMatchObject({ name: 'DBInstanceNotFoundFault', status: 404 });
    expect((await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'x', SnapshotIdentifier: 'nope', Engine: 'aurora-postgresql' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
  });

  test('a snapshot of a cluster with ManageMasterUserPassword cannot be restored (HTTP 500): seed sources with MasterUserPassword', async () => {
    await tgt.send(new CreateDBClusterCommand({ DBClusterIdentifier: 'managed', Engine: 'aurora-postgresql', MasterUsername: 'postgres', ManageMasterUserPassword: true }));
    await tgt.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'managed', DBClusterSnapshotIdentifier: 'managed-snap' }));
    const err = await errorOf(tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'from-managed', SnapshotIdentifier: 'managed-snap', Engine: 'aurora-postgresql' })));
    expect(err.status).toBe(500);
  });

  test('stop ends the server process', async () => {
    const other = await startMoto();
    await other.stop();
    await expect(fetch(`${other.endpoint}/moto-api/`)).rejects.toThrow();
    await other.stop();
  });
});

describe('moto without the launcher fixes (shows each fix is still needed)', () => {
  let moto: MotoServer;
  let rds: RDSClient;

  beforeAll(async () => {
    moto = await startMoto({
      withoutFixes: ['account-attributes', 'snapshot-arn-as-identifier', 'automated-snapshot-name-collision', 'failed-modify-keeps-cluster', 'restore-deletion-protection',
        'copy-kms-key-of-unencrypted-snapshot', 'stopped-cluster-cannot-be-deleted', 'restore-with-kms-key-encrypts',
        'rename-onto-existing-cluster', 'rename-keeps-instances', 'rename-reports-renaming',
        'assume-role-trust', 'shared-snapshot-arn', 'share-needs-customer-key', 'shared-key-policy'],
    });
    rds = rdsClient(moto, SOURCE);
  });
  afterAll(async () => {
    await moto?.stop();
  });

  test('no fix applied', () => {
    expect(moto.fixes).toEqual([]);
  });

  test('restore and describe by snapshot ARN find nothing', async () => {
    await createSourceCluster(rds, 'src', { DeletionProtection: true });
    const snap = (await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }))).DBClusterSnapshot!;
    expect((await errorOf(rds.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: snap.DBClusterSnapshotArn, Engine: 'aurora-postgresql' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
    expect((await errorOf(rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
  });

  test('DeletionProtection=false is ignored on restore; the same identifier restored twice in one minute collides', async () => {
    // Both restores must fall in one UTC minute; retry once if the first attempt straddled a minute boundary.
    for (let attempt = 0; ; attempt++) {
      await moto.reset();
      await createSourceCluster(rds, 'src', { DeletionProtection: true });
      await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'src', DBClusterSnapshotIdentifier: 'snap' }));
      const minute = new Date().toISOString().slice(0, 16);
      const first = await rds.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql', DeletionProtection: false }));
      expect(first.DBCluster!.DeletionProtection).toBe(true);
      await rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'tgt', DeletionProtection: false, ApplyImmediately: true }));
      await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'tgt', SkipFinalSnapshot: true }));
      const second = await errorOf(rds.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'tgt', SnapshotIdentifier: 'snap', Engine: 'aurora-postgresql' })))
        .catch((e: Error) => ({ name: `succeeded: ${e.message}`, message: '' }));
      if (new Date().toISOString().slice(0, 16) !== minute && attempt === 0) continue;
      expect(second.name).toBe('DBClusterSnapshotAlreadyExistsFault');
      break;
    }
  });

  test('a KmsKeyId on the copy of an unencrypted snapshot is accepted (RDS refuses it)', async () => {
    const tgt = rdsClient(moto, TARGET);
    await createSourceCluster(rds, 'plain', { StorageEncrypted: false });
    const snap = (await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'plain', DBClusterSnapshotIdentifier: 'plain-snap' }))).DBClusterSnapshot!;
    const key = (await awsJsonCall({ endpoint: moto.endpoint, region: TARGET }, 'kms', 'CreateKey', {})).KeyMetadata;
    const copy = await tgt.send(new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'copy', KmsKeyId: key.Arn,
    }));
    expect(copy.DBClusterSnapshot!.DBClusterSnapshotIdentifier).toBe('copy');
  });

  test('a cluster restored with a KmsKeyId from an unencrypted snapshot stays unencrypted (RDS encrypts it)', async () => {
    await createSourceCluster(rds, 'plain2', { StorageEncrypted: false });
    await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'plain2', DBClusterSnapshotIdentifier: 'plain2-snap' }));
    const key = (await awsJsonCall({ endpoint: moto.endpoint, region: SOURCE }, 'kms', 'CreateKey', {})).KeyMetadata;
    const restored = await rds.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: 'plain2-snap', Engine: 'aurora-postgresql', KmsKeyId: key.Arn }));
    expect(restored.DBCluster!.StorageEncrypted).toBe(false);
  });

  test('AssumeRole hands out credentials of any account for any role, existing or not, trusting the caller or not', async () => {
    const out = await awsQueryCall({ endpoint: moto.endpoint, region: TARGET }, 'sts', 'AssumeRole', { RoleArn: `arn:aws:iam::${ACCOUNT_A}:role/nobody`, RoleSessionName: 's' });
    expect(out.text('Arn')).toBe(`arn:aws:sts::${ACCOUNT_A}:assumed-role/nobody/s`);
  });

  test('a snapshot shared by another account is not found by its ARN (moto looks in the caller\'s account)', async () => {
    const arn = await sharedSnapshotOfA(moto, SOURCE);
    expect((await rds.send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'shared' }))).DBClusterSnapshots!.map((x) => x.DBClusterSnapshotArn)).toEqual([arn]);
    expect((await errorOf(rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: arn })))).name).toBe('DBClusterSnapshotNotFoundFault');
    expect((await errorOf(rds.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: arn, Engine: 'aurora-postgresql' })))).name)
      .toBe('DBClusterSnapshotNotFoundFault');
  });

  test('DescribeAccountAttributes is not implemented: no quota to read, none to hold', async () => {
    await expect(rds.send(new DescribeAccountAttributesCommand({}))).rejects.toThrow();
  });

  test('a stopped cluster is deleted (RDS refuses)', async () => {
    await createSourceCluster(rds, 'stopped');
    await rds.send(new StopDBClusterCommand({ DBClusterIdentifier: 'stopped' }));
    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'stopped', SkipFinalSnapshot: true }));
    expect((await errorOf(rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'stopped' })))).name).toBe('DBClusterNotFoundFault');
  });

  test('a rejected password change deletes the cluster', async () => {
    await createSourceCluster(rds, 'pw');
    await errorOf(rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'pw', MasterUserPassword: 'short', ApplyImmediately: true })));
    expect((await errorOf(rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'pw' })))).name).toBe('DBClusterNotFoundFault');
  });

  test('a rename: available at once, the instances stay with the old name, a rename onto an existing cluster replaces it', async () => {
    await createSourceCluster(rds, 'old', { StorageEncrypted: false });
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'old-w', DBClusterIdentifier: 'old', Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless' }));
    await rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'old', NewDBClusterIdentifier: 'new', ApplyImmediately: true }));
    const renamed = await clusterOf(rds, 'new');
    expect(renamed.Status).toBe('available');
    expect(renamed.DBClusterMembers).toEqual([]);
    expect((await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'old-w' }))).DBInstances![0].DBClusterIdentifier).toBe('old');
    await createSourceCluster(rds, 'other', { StorageEncrypted: false });
    await rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: 'new', NewDBClusterIdentifier: 'other', ApplyImmediately: true }));
    expect((await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier)).not.toContain('new');
  });
});

describe('moto without the key fixes (shows share-needs-customer-key and shared-key-policy are still needed)', () => {
  let moto: MotoServer;
  let tgt: RDSClient;

  beforeAll(async () => {
    moto = await startMoto({ withoutFixes: ['share-needs-customer-key', 'shared-key-policy'] });
    tgt = rdsClient(moto, TARGET);
  });
  afterAll(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
  });

  test('a shared snapshot on the aws/rds key is restored by the other account', async () => {
    const arn = await sharedSnapshotOfA(moto, TARGET, (await moto.awsManagedKey(TARGET, ACCOUNT_A)).arn);
    expect((await tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: arn, Engine: 'aurora-postgresql' }))).DBCluster!.DBClusterIdentifier).toBe('r');
  });

  test('a shared snapshot whose key\'s policy does not let the account in is restored', async () => {
    const arn = await sharedSnapshotOfA(moto, TARGET, await keyInA(moto, TARGET));
    expect((await tgt.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'r', SnapshotIdentifier: arn, Engine: 'aurora-postgresql' }))).DBCluster!.DBClusterIdentifier).toBe('r');
  });
});
