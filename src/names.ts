import { createHash } from 'crypto';

/*
 * The names of what the pipeline makes in RDS, shared by the construct (its IAM patterns, its synth checks)
 * and the handlers (lambda-src/lib/naming.ts), so both spell them the same way.
 *
 * Every name starts with a prefix of its own, followed by the target cluster identifier: an IAM pattern such
 * as `cluster-snapshot:arp-final-prod-*` then covers nothing of a source `prod-aurora` (its automated snapshots
 * are `rds:prod-aurora-...`, its instances and manual snapshots are named by their owners), and the construct
 * refuses a source or target identifier that starts with one of these prefixes.
 */

/** Prefix of the snapshot copies the pipeline makes in the target region: `arp-copy-<target>-<operation>-<hash>`. */
export const COPY_SNAPSHOT_PREFIX = 'arp-copy-';
/** Prefix of the final snapshots taken before the target is deleted: `arp-final-<target>-<operation>-<hash>`. */
export const FINAL_SNAPSHOT_PREFIX = 'arp-final-';
/**
 * Prefix of temporary clusters (a restore beside the target, swapped in later) and their writers:
 * `arp-tmp-<target>-<hash>` and `arp-tmp-<target>-<hash>-writer`.
 */
export const TEMPORARY_CLUSTER_PREFIX = 'arp-tmp-';
/** Prefix of the previous target, renamed away by a swap's cutover: `arp-prev-<target>`. */
export const PREVIOUS_CLUSTER_PREFIX = 'arp-prev-';

/**
 * Prefix of the shareable copies the source account's role (`AuroraRestoreSource`) makes of a source snapshot,
 * re-encrypted with the companion key: `arp-share-<...>`.
 */
export const SHARE_SNAPSHOT_PREFIX = 'arp-share-';

/** Prefix of the role and the share key alias `AuroraRestoreSource` creates in the source account. */
export const SOURCE_ACCESS_PREFIX = 'arp-source-';
/** Longest IAM role name. */
const MAX_ROLE_NAME_LENGTH = 64;

/**
 * The name of the role `AuroraRestoreSource` creates in the source account for one pipeline account and region,
 * and of its share key's alias (`alias/<name>`): `arp-source-<source cluster>-<hash>`, the hash of the pipeline's
 * account, its region and the source cluster. Both sides compute it, so the pipeline needs only `sourceAccount`;
 * two pipeline accounts (or regions) restoring the same production cluster get a role each (IAM names are global).
 */
export function sourceAccessName(sourceClusterIdentifier: string, pipelineAccount: string, pipelineRegion: string): string {
  const cluster = sourceClusterIdentifier.toLowerCase();
  const hash = createHash('sha256').update(`${pipelineAccount}/${pipelineRegion}/${cluster}`).digest('hex').slice(0, 8);
  const start = `${SOURCE_ACCESS_PREFIX}${cluster}`.slice(0, MAX_ROLE_NAME_LENGTH - hash.length - 1).replace(/-+$/, '');
  return `${start}-${hash}`;
}

/** The prefixes no source or target cluster identifier may start with. */
export const RESERVED_NAME_PREFIXES = [
  COPY_SNAPSHOT_PREFIX, FINAL_SNAPSHOT_PREFIX, TEMPORARY_CLUSTER_PREFIX, PREVIOUS_CLUSTER_PREFIX, SHARE_SNAPSHOT_PREFIX,
];

/** Longest DB cluster or instance identifier RDS accepts. */
export const MAX_RDS_IDENTIFIER_LENGTH = 63;
/** Characters of a temporary name after its start: `-<8 hex hash>-writer`. */
const TEMPORARY_SUFFIX_LENGTH = 16;

/**
 * The start every temporary cluster and writer name of this target has (an IAM resource pattern adds `*`): the
 * prefix and the target, cut so that the hash and `-writer` still fit RDS's 63 characters.
 */
export function temporaryNameStart(targetClusterIdentifier: string): string {
  return `${TEMPORARY_CLUSTER_PREFIX}${targetClusterIdentifier.toLowerCase()}`.slice(0, MAX_RDS_IDENTIFIER_LENGTH - TEMPORARY_SUFFIX_LENGTH).replace(/-+$/, '');
}

/**
 * The identifier the previous target gets at a swap's cutover: `arp-prev-<target>`, one per target (a kept one is
 * deleted by the next swap before its own cutover).
 */
export function previousClusterIdentifier(targetClusterIdentifier: string): string {
  return `${PREVIOUS_CLUSTER_PREFIX}${targetClusterIdentifier.toLowerCase()}`.slice(0, MAX_RDS_IDENTIFIER_LENGTH).replace(/-+$/, '');
}

/** The start every copy name of this target has (an IAM resource pattern adds `*`). */
export function copySnapshotNameStart(targetClusterIdentifier: string): string {
  return `${COPY_SNAPSHOT_PREFIX}${targetClusterIdentifier.toLowerCase()}-`;
}

/** The start every shareable copy name of this target has (in the source account): `arp-share-<target>-`. */
export function shareSnapshotNameStart(targetClusterIdentifier: string): string {
  return `${SHARE_SNAPSHOT_PREFIX}${targetClusterIdentifier.toLowerCase()}-`;
}

/** The start every final snapshot name of this target has (an IAM resource pattern adds `*`). */
export function finalSnapshotNameStart(targetClusterIdentifier: string): string {
  return `${FINAL_SNAPSHOT_PREFIX}${targetClusterIdentifier.toLowerCase()}-`;
}

/** The reserved prefix a cluster identifier starts with, if any (RDS identifiers are case-insensitive). */
export function reservedPrefixOf(identifier: string): string | undefined {
  return RESERVED_NAME_PREFIXES.find((p) => identifier.toLowerCase().startsWith(p));
}
