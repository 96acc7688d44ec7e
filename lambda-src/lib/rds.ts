import {
  DBCluster,
  DBClusterSnapshot,
  DBInstance,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  RDSClient,
  Tag,
} from '@aws-sdk/client-rds';
import { mapAwsError } from './errors';

/** Whether an error is the named RDS fault. */
export function isFault(err: unknown, ...names: string[]): boolean {
  const name = (err as { name?: string })?.name;
  return typeof name === 'string' && names.includes(name);
}

/** A cluster, or `undefined` when RDS says DBClusterNotFoundFault. */
export async function describeCluster(client: RDSClient, identifier: string, region: string): Promise<DBCluster | undefined> {
  try {
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }));
    return out.DBClusters?.[0];
  } catch (err) {
    if (isFault(err, 'DBClusterNotFoundFault')) return undefined;
    throw mapAwsError(err, `Describing cluster ${identifier} in ${region}`);
  }
}

/** An instance, or `undefined` when RDS says DBInstanceNotFoundFault. */
export async function describeInstance(client: RDSClient, identifier: string, region: string): Promise<DBInstance | undefined> {
  try {
    const out = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }));
    return out.DBInstances?.[0];
  } catch (err) {
    if (isFault(err, 'DBInstanceNotFoundFault')) return undefined;
    throw mapAwsError(err, `Describing instance ${identifier} in ${region}`);
  }
}

/** A cluster snapshot by identifier or ARN, or `undefined` when RDS says DBClusterSnapshotNotFoundFault or lists none. */
export async function describeClusterSnapshot(
  client: RDSClient,
  identifier: string,
  region: string,
  includeShared = false,
): Promise<DBClusterSnapshot | undefined> {
  try {
    const out = await client.send(new DescribeDBClusterSnapshotsCommand({
      DBClusterSnapshotIdentifier: identifier,
      ...(includeShared ? { IncludeShared: true } : {}),
    }));
    return out.DBClusterSnapshots?.[0];
  } catch (err) {
    if (isFault(err, 'DBClusterSnapshotNotFoundFault')) return undefined;
    throw mapAwsError(err, `Describing cluster snapshot ${identifier} in ${region}`);
  }
}

/** Parses RDS's percent-progress (a number for snapshots, a string for clusters). */
export function percent(value: number | string | undefined): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number.parseFloat(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The tags of a described resource: its `TagList` when the describe call returned one (RDS does), else
 * read with ListTagsForResource (some emulators leave TagList out). Ownership checks rely on this.
 */
export async function tagsOf(client: RDSClient, resource: { TagList?: Tag[] }, arn: string | undefined, region: string): Promise<Tag[]> {
  if (Array.isArray(resource.TagList)) return resource.TagList;
  if (!arn) return [];
  try {
    const out = await client.send(new ListTagsForResourceCommand({ ResourceName: arn }));
    return out?.TagList ?? [];
  } catch (err) {
    throw mapAwsError(err, `Reading the tags of ${arn} in ${region}`);
  }
}
