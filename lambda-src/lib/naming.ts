import type { Tag } from '@aws-sdk/client-rds';
import { errors } from './errors';
import { PipelineConfig, PipelineTag, TagEntry } from '../../src/contracts';

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

/** Identifier of the snapshot copy in the target region: `<target>-<operationId>`, sanitized. */
export function copySnapshotIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return sanitizeIdentifier(`${targetClusterIdentifier}-${operationId}`);
}

/** Identifier of the final snapshot taken before the target is deleted: `<target>-final-<operationId>`, sanitized. */
export function finalSnapshotIdentifier(targetClusterIdentifier: string, operationId: string): string {
  return sanitizeIdentifier(`${targetClusterIdentifier}-final-${operationId}`);
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
