import { createHash } from 'node:crypto';
import type { Tag } from '@aws-sdk/client-rds';
import { errors } from './errors';
import { PipelineConfig, PipelineTag, TagEntry } from '../../src/contracts';
import { copySnapshotNameStart, finalSnapshotNameStart, MAX_RDS_IDENTIFIER_LENGTH, shareSnapshotNameStart, temporaryNameStart } from '../../src/names';

/** Longest cluster snapshot identifier RDS accepts. */
export const MAX_SNAPSHOT_IDENTIFIER_LENGTH = 255;

/** Allowed operation IDs: letters, digits, `-` and `_`, at most 64 characters. */
export const OPERATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Turns any text into a valid RDS identifier: lower-case letters, digits and single hyphens, starting
 * with a letter, not ending with a hyphen, at most `maxLength` characters.
 */
export function sanitizeIdentifier(raw: string, maxLength = MAX_SNAPSHOT_IDENTIFIER_LENGTH): string {
  let s = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+/, '');
  if (s !== '' && !/^[a-z]/.test(s)) s = `x-${s}`;
  s = s.slice(0, maxLength).replace(/-+$/, '');
  if (s === '') {
    throw errors.invalidInput(`Cannot make an RDS identifier from '${raw}': it has no letters or digits. Use an operationId made of letters, digits, '-' and '_'.`);
  }
  return s;
}

/** Length of the operation hash in generated names: two operation IDs that sanitize alike still get different names. */
const OPERATION_HASH_LENGTH = 8;

/** A short hash of the raw operation ID (case and punctuation included), so `Nightly_1` and `nightly-1` differ. */
export function operationHash(operationId: string): string {
  return createHash('sha256').update(operationId, 'utf8').digest('hex').slice(0, OPERATION_HASH_LENGTH);
}

/** `<start><operation>-<hash>`, sanitized, cut to `maxLength` without losing the hash. */
function operationName(start: string, operationId: string, maxLength: number): string {
  const hash = operationHash(operationId);
  return `${sanitizeIdentifier(`${start}${operationId}`, maxLength - hash.length - 1)}-${hash}`;
}

/**
 * Identifier of the snapshot copy in the target region: `arp-copy-<target>-<operationId>-<hash>`, sanitized.
 * Its prefix differs from a final snapshot's, so a copy name never equals a final snapshot name.
 */
export function copySnapshotIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return operationName(copySnapshotNameStart(targetClusterIdentifier), operationId, MAX_SNAPSHOT_IDENTIFIER_LENGTH);
}

/**
 * Identifier of the shareable copy made in the source account (cross-account): `arp-share-<target>-<operationId>-<hash>`,
 * sanitized. The source account's role may share and delete only `arp-share-` snapshots carrying its tag.
 */
export function shareSnapshotIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return operationName(shareSnapshotNameStart(targetClusterIdentifier), operationId, MAX_SNAPSHOT_IDENTIFIER_LENGTH);
}

/**
 * Identifier of the final snapshot taken before the target is deleted: `arp-final-<target>-<operationId>-<hash>`,
 * sanitized; unique per operation ID.
 */
export function finalSnapshotIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return operationName(finalSnapshotNameStart(targetClusterIdentifier), operationId, MAX_SNAPSHOT_IDENTIFIER_LENGTH);
}

/** Longest DB cluster identifier RDS accepts. */
export const MAX_CLUSTER_IDENTIFIER_LENGTH = MAX_RDS_IDENTIFIER_LENGTH;

/**
 * Identifier of a temporary cluster restored beside the target for an operation (`ReplaceStrategy.SWAP`):
 * `arp-tmp-<target>-<hash>`, the target cut so the whole (and its writer's name) fits RDS's 63 characters;
 * unique per operation ID.
 */
export function temporaryClusterIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return `${temporaryNameStart(targetClusterIdentifier)}-${operationHash(operationId)}`;
}

/** Identifier of the writer instance of an operation's temporary cluster: `arp-tmp-<target>-<hash>-writer`. */
export function temporaryWriterIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return `${temporaryClusterIdentifier(targetClusterIdentifier, operationId)}-writer`;
}

/**
 * The operation ID when the validated one is not at hand: the input's `operationId` if valid, else the
 * execution name made to fit {@link OPERATION_ID_PATTERN}. snapshot-check and sns-notification both use
 * it, so a failure before the state exists is recorded under the same ID.
 */
export function deriveOperationId(input: unknown, executionName: string | undefined): string {
  const fromInput = (input && typeof input === 'object') ? (input as Record<string, unknown>).operationId : undefined;
  if (typeof fromInput === 'string' && OPERATION_ID_PATTERN.test(fromInput)) return fromInput;
  const fromName = (executionName ?? '').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return fromName === '' ? 'unknown-operation' : fromName;
}

/** Converts the config's tags into RDS tags. */
export function toRdsTags(tags: TagEntry[] | undefined): Tag[] {
  return (tags ?? []).map((t) => ({ Key: t.key, Value: t.value }));
}

/** Merges tag lists; a later list wins on a key. */
export function mergeTags(...lists: Tag[][]): Tag[] {
  const byKey = new Map<string, Tag>();
  for (const list of lists) for (const t of list) if (t.Key) byKey.set(t.Key, t);
  return [...byKey.values()];
}

/** The ownership tags of what the pipeline creates for an operation. */
export function ownershipTags(config: PipelineConfig, operationId: string, sourceSnapshotIdentifier: string): Tag[] {
  return [
    { Key: PipelineTag.PIPELINE, Value: config.pipelineId },
    { Key: PipelineTag.OPERATION_ID, Value: operationId },
    { Key: PipelineTag.SOURCE_SNAPSHOT, Value: sourceSnapshotIdentifier },
  ];
}

/** The value of a tag, if present. */
export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** Whether a resource counts as this pipeline's: its pipeline tag, or the `assumeTargetOwned` override. */
export function isOwnedByPipeline(tags: Tag[] | undefined, config: PipelineConfig): boolean {
  return config.assumeTargetOwned || tagValue(tags, PipelineTag.PIPELINE) === config.pipelineId;
}

/** Whether a resource was created by this pipeline for this operation (no override applies). */
export function isFromOperation(tags: Tag[] | undefined, config: PipelineConfig, operationId: string): boolean {
  return tagValue(tags, PipelineTag.PIPELINE) === config.pipelineId && tagValue(tags, PipelineTag.OPERATION_ID) === operationId;
}

/** The parts of an RDS cluster snapshot ARN. */
export interface SnapshotArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly identifier: string;
}

/** Parses `arn:<partition>:rds:<region>:<account>:cluster-snapshot:<id>`; anything else is `undefined`. */
export function parseSnapshotArn(arn: string): SnapshotArnParts | undefined {
  const m = /^arn:(aws[a-z-]*):rds:([a-z0-9-]+):(\d{12}):cluster-snapshot:(.+)$/.exec(arn);
  return m ? { partition: m[1], region: m[2], account: m[3], identifier: m[4] } : undefined;
}

function consoleHost(partition: string, region: string): string {
  switch (partition) {
    case 'aws-cn': return `https://${region}.console.amazonaws.cn`;
    case 'aws-us-gov': return `https://${region}.console.amazonaws-us-gov.com`;
    default: return `https://${region}.console.aws.amazon.com`;
  }
}

/** Link to an execution in the Step Functions console. The region comes from the ARN. */
export function executionConsoleLink(executionArn: string, fallbackRegion: string): string {
  const parts = executionArn.split(':');
  const partition = parts[1] || 'aws';
  const region = parts[3] || fallbackRegion;
  return `${consoleHost(partition, region)}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** Link to a cluster in the RDS console. */
export function clusterConsoleLink(region: string, clusterIdentifier: string): string {
  return `${consoleHost('aws', region)}/rds/home?region=${region}#database:id=${clusterIdentifier};is-cluster=true`;
}

/** Whether two RDS identifiers name the same resource: RDS identifiers are case-insensitive. */
export function sameRdsIdentifier(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
