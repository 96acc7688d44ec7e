/*
 * e2e: the synthesized pipeline, run by aws-local-stepfunctions with the bundled handlers, against moto
 * (AWS) and a real PostgreSQL standing in for the restored cluster. Same region: no copy, no existing target.
 */
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, ListTagsForResourceCommand } from '@aws-sdk/client-rds';
import { DatabasePrivilege } from '../../src';
import { startMoto, type MotoServer } from '../support/moto';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { createHarness, findSecretLeaks, seedCluster, type E2EHarness } from './support/harness';
import { pipelineStack, TARGET_REGION } from './support/stacks';

jest.setTimeout(180_000);

describe('same-region restore of the latest snapshot into a new target', () => {
  let moto: MotoServer;
  let pg: TestPostgres;
  let h: E2EHarness;

  beforeAll(async () => {
    [moto, pg] = await Promise.all([startMoto(), startPostgres()]);
    await pg.withClient('postgres', async (c) => {
      await c.query('CREATE DATABASE app');
    });
  });
  afterAll(async () => {
    await Promise.all([moto?.stop(), pg?.stop()]);
  });

  beforeEach(async () => {
    await moto.reset();
    const { stack } = pipelineStack({
      databaseUsers: [{ username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE, databases: ['app'] }],
    });
    h = await createHarness({ moto, stack, extraEnv: { NODE_EXTRA_CA_CERTS: pg.caFile } });
    // The master secret is the password the "restored" cluster's superuser really has.
    await h.putSecretJson(h.config.restore.masterSecretArn, { username: pg.superuser, password: pg.superPassword });
    await seedCluster(h, { region: TARGET_REGION, identifier: 'prod-aurora', snapshots: ['prod-aurora-old', 'prod-aurora-new'] });
    // The restored cluster answers on the local PostgreSQL.
    await moto.overrideCluster(h.config.targetClusterIdentifier, { endpoint: 'localhost', readerEndpoint: 'localhost', port: pg.port });
  });

  test('restores, creates the users in PostgreSQL, notifies success, records state and audit, leaks no secret', async () => {
    const run = await h.run({ requestedBy: 'e2e' }, { executionName: 'nightly-1' });
    if (run.status !== 'SUCCEEDED') throw new Error(`run failed: ${JSON.stringify(run.error)}\n${JSON.stringify(run.invocations.map((i) => [i.stateName, i.error, i.result]))}`);

    expect(run.path).toEqual(expect.arrayContaining(['SnapshotCheck', 'RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'ArchiveSnapshot', 'NotifySuccess']));
    expect(run.path).not.toContain('CopySnapshot');
    expect(run.path).not.toContain('DeleteRds');

    const rds = h.rds(TARGET_REGION);
    const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    const tags = (await rds.send(new ListTagsForResourceCommand({ ResourceName: cluster.DBClusterArn }))).TagList!;
    expect(tags).toEqual(expect.arrayContaining([
      { Key: 'aurora-restore-pipeline:pipeline', Value: h.config.pipelineId },
      { Key: 'aurora-restore-pipeline:operation-id', Value: 'nightly-1' },
    ]));
    const writer = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: h.config.restore.instanceIdentifier }))).DBInstances![0];
    expect(writer.DBClusterIdentifier).toBe('staging-aurora');

    const roles = await pg.withClient('postgres', async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname = 'app_rw'")).rows);
    expect(roles).toEqual([{ rolname: 'app_rw' }]);

    const state = await h.stateItems();
    expect(state.find((i) => i.operation_id === 'nightly-1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(state.find((i) => String(i.operation_id).startsWith('LOCK#'))).toBeUndefined();
    expect((await h.auditItems('nightly-1')).length).toBeGreaterThan(0);

    const messages = await h.receiveMessages();
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0])).toMatchObject({ status: 'SUCCEEDED', operationId: 'nightly-1' });

    const secrets = [...await h.secretValues(), pg.superPassword];
    expect(await findSecretLeaks(h, [run], secrets, { 'postgres log': pg.readLog() })).toEqual([]);
  });
});
