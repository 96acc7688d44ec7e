/*
 * The per-run figures (RTO/RPO) the notification step emits as CloudWatch metrics (embedded metric format) and the
 * construct reads back (`metricRestoreTime()`, the dashboard). Shared by src/ and lambda-src/: plain data only.
 */

/** A phase of a restore whose duration is measured and emitted as a metric. */
export enum RunPhase {
  /** The cross-region snapshot copy: from CopySnapshot's start to the check that found the copy available. */
  COPY = 'COPY',
  /** The delete of the previous target: from DeleteRds's first call to the call that found it gone. */
  DELETE = 'DELETE',
  /** The restore: from RestoreSnapshot's start to the check that found the cluster and its writer available. */
  RESTORE = 'RESTORE',
  /** The database users: SetupDbUsers. */
  USERS = 'USERS',
  /** The validation of the restored cluster before it is used: ValidateRestore. */
  VALIDATION = 'VALIDATION',
  /** A swap's cutover: from the first rename request to the new cluster available under the target's identifier. */
  CUTOVER = 'CUTOVER',
}

/** Where the figures go in CloudWatch. */
export const RUN_METRICS = {
  /** The namespace of every figure. */
  namespace: 'AuroraRestorePipeline',
  /** The one dimension: the target cluster's identifier (one pipeline per target: the lock says so). */
  dimension: 'TargetCluster',
  /** Start of the execution → target ready with users (RTO of the run), seconds. */
  restoreTime: 'RestoreTime',
  /** Target ready → creation of the restored snapshot (RPO: how old the data is), seconds. */
  snapshotAge: 'SnapshotAge',
  /** How long the previous target was unusable, seconds; only for a run that replaced one. */
  targetUnavailableTime: 'TargetUnavailableTime',
  /** Metric name of each phase's duration, seconds. */
  phases: {
    [RunPhase.COPY]: 'CopyTime',
    [RunPhase.DELETE]: 'DeleteTime',
    [RunPhase.RESTORE]: 'RestorePhaseTime',
    [RunPhase.USERS]: 'UsersTime',
    [RunPhase.VALIDATION]: 'ValidationTime',
    [RunPhase.CUTOVER]: 'CutoverTime',
  } as Record<RunPhase, string>,
};
