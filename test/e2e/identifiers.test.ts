/*
 * e2e: one spelling of identifiers. RDS identifiers are case-insensitive and stored in lower case; IAM
 * compares ARNs case-sensitively. A pipeline configured with `Prod-Aurora` → `Staging-DB` restores, then
 * replaces its own target (instances, cluster, final snapshot), and every AWS call its handlers make is
 * allowed by the roles of the synthesized template (the harness evaluates each one; see harness.ts).
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { finalSnapshotIdentifier, temporaryClusterIdentifier } from '../../lambda-src/lib/naming';
import { PipelineTag } from '../../src';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { expectSucceeded, startScenario, startWorld, type World } from './support/world';

jest.setTimeout(600_000);

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true }); // the default unmanagedLogins DISABLE connects to the copy
});
afterAll(async () => {
  await world?.stop();
});

test('a mixed-case target restores and is replaced, every call allowed by IAM under the lower-case spelling', async () => {
  const s = await startScenario(world, pipelineStack({ sourceClusterIdentifier: 'Prod-Aurora', targetClusterIdentifier: 'Staging-DB' }).stack);
  const { h } = s;
  expect(h.config).toMatchObject({
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'staging-db',
    restore: { instanceIdentifier: 'staging-db-writer' },
  });

  const first = await h.run({ operationId: 'Nightly_1' }, { executionName: 'first' });
  expectSucceeded(first);
  const second = await h.run({ operationId: 'nightly-1' }, { executionName: 'second' });
  expectSucceeded(second);

  const rds = h.rds(TARGET_REGION);
  const [target] = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-db' }))).DBClusters!;
  expect(target.DBClusterIdentifier).toBe('staging-db');
  expect(Object.fromEntries(target.TagList!.map((t) => [t.Key, t.Value]))).toMatchObject({ [PipelineTag.OPERATION_ID]: 'nightly-1' });
  // The two operation IDs sanitize alike; the final snapshot of the second run has its own name. (The second run swapped:
  // the previous target was retired under the name the cutover gave it.)
  const finals = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'arp-prev-staging-db', SnapshotType: 'manual' }))).DBClusterSnapshots!;
  expect(finals.map((f) => f.DBClusterSnapshotIdentifier)).toEqual([finalSnapshotIdentifier('staging-db', 'nightly-1')]);
  expect(finalSnapshotIdentifier('staging-db', 'nightly-1')).not.toBe(finalSnapshotIdentifier('staging-db', 'Nightly_1'));

  // The check is not vacuous: the destructive calls were made, and evaluated, under lower-case ARNs.
  const requests = h.iamCalls.flatMap((c) => c.requests.map((r) => `${r.action} ${r.resource}`));
  expect(requests).toEqual(expect.arrayContaining([
    `rds:RestoreDBClusterFromSnapshot arn:aws:rds:${TARGET_REGION}:123456789012:cluster:staging-db`,
    `rds:CreateDBInstance arn:aws:rds:${TARGET_REGION}:123456789012:db:staging-db-writer`,
    `rds:DeleteDBInstance arn:aws:rds:${TARGET_REGION}:123456789012:db:staging-db-writer`,
    // The second run swapped: restored beside the target, renamed it away, retired it under its new name.
    `rds:RestoreDBClusterFromSnapshot arn:aws:rds:${TARGET_REGION}:123456789012:cluster:${temporaryClusterIdentifier('staging-db', 'nightly-1')}`,
    `rds:DeleteDBCluster arn:aws:rds:${TARGET_REGION}:123456789012:cluster:arp-prev-staging-db`,
    `rds:ModifyDBCluster arn:aws:rds:${TARGET_REGION}:123456789012:cluster:staging-db`,
  ]));
  expect(requests.some((r) => /Staging|Prod-/.test(r))).toBe(false);
});
