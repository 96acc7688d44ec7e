/*
 * Payload types shared by the state machine (src/) and the handlers (lambda-src/).
 *
 * Everything here is plain data: strings, numbers, booleans, arrays and nested structs, so the types are
 * jsii-compatible and the same shapes can be used from every language. None of these shapes may ever
 * hold a secret value: secrets travel only as ARNs and are read by the handler that needs them.
 */

/**
 * The input of one execution of the pipeline's state machine (`aws stepfunctions start-execution --input`).
 *
 * Every field is optional; `{}` restores the latest available snapshot of the source cluster.
 * Unknown fields are rejected with `InvalidInput`.
 */
export interface RestoreExecutionInput {
  /**
   * The cluster snapshot to restore: its identifier or its ARN, in the source region.
   *
   * @default - the latest `available` snapshot of the source cluster
   */
  readonly snapshotIdentifier?: string;

  /**
   * The identifier of this operation, used as the key of its state item and audit entries and to name
   * the snapshot copy. Letters, digits, `-` and `_`, at most 64 characters.
   *
   * @default - the execution's name
   */
  readonly operationId?: string;

  /**
   * Free text recorded in the audit trail, such as who or what started the restore.
   *
   * @default - none
   */
  readonly requestedBy?: string;

  /**
   * Run the preflight only: check the snapshot, keys, network, quotas, target and secrets, notify the checklist,
   * and end (SUCCEEDED when every check passed, FAILED with `PreflightFailed` when not). Takes no lock and writes
   * nothing: no state item, no audit entry, no AWS resource.
   *
   * @default false
   */
  readonly dryRun?: boolean;
}

/**
 * The named errors the handlers raise. The state machine routes on these names: it retries only the
 * transient ones, and every other one ends the execution through the failure notification.
 */
export enum PipelineErrorName {
  /** The execution input or the pipeline's configuration is invalid; the message names the field. */
  INVALID_INPUT = 'InvalidInput',
  /** The named snapshot, or any available snapshot of the source cluster, does not exist. */
  SNAPSHOT_NOT_FOUND = 'SnapshotNotFound',
  /** The snapshot is not of an `aurora-postgresql` cluster. */
  UNSUPPORTED_ENGINE = 'UnsupportedEngine',
  /** Another operation holds the lock on the target cluster. */
  RESTORE_ALREADY_IN_PROGRESS = 'RestoreAlreadyInProgress',
  /** The target cluster exists and the pipeline is not allowed to replace it. */
  TARGET_ALREADY_EXISTS = 'TargetAlreadyExists',
  /** The target cluster exists but was not created by this pipeline, and the pipeline was not told it owns it. */
  TARGET_NOT_OWNED = 'TargetNotOwned',
  /** The cluster to delete is the source cluster. Never deleted. */
  SOURCE_CLUSTER_PROTECTED = 'SourceClusterProtected',
  /** The target cluster has deletion protection and the pipeline may not turn it off. */
  DELETION_PROTECTED = 'DeletionProtected',
  /** RDS cannot use a KMS key (missing key, disabled key or missing grant). */
  KMS_KEY_NOT_ACCESSIBLE = 'KmsKeyNotAccessible',
  /** The account's snapshot quota, or the limit of 5 cross-region copies in flight, is reached. */
  SNAPSHOT_QUOTA_EXCEEDED = 'SnapshotQuotaExceeded',
  /** The snapshot copy failed or disappeared. */
  SNAPSHOT_COPY_FAILED = 'SnapshotCopyFailed',
  /** The restored cluster or its writer instance ended in a failed state. */
  RESTORE_FAILED = 'RestoreFailed',
  /** A wait loop ran past its time budget. */
  OPERATION_TIMED_OUT = 'OperationTimedOut',
  /** A secret is missing, unreadable, or lacks the expected JSON keys. */
  SECRET_INVALID = 'SecretInvalid',
  /** A database role name does not match the allowed pattern. */
  INVALID_ROLE_NAME = 'InvalidRoleName',
  /** A SQL statement of the user setup failed for a reason that retrying will not fix. */
  DATABASE_SETUP_FAILED = 'DatabaseSetupFailed',
  /** The pipeline's role may not perform an action; the message names the action and what usually causes it. */
  PERMISSION_DENIED = 'PermissionDenied',
  /** Transient: an RDS resource is busy with another change (e.g. `InvalidDBClusterStateFault`). Retried. */
  RESOURCE_BUSY = 'ResourceBusy',
  /** Transient: the database did not accept a connection yet. Retried. */
  DATABASE_UNAVAILABLE = 'DatabaseUnavailable',
  /** Transient: an AWS service answered with a server error or a network error occurred. Retried. */
  AWS_SERVICE_UNAVAILABLE = 'AwsServiceUnavailable',
  /**
   * Recorded, not raised: the execution was stopped by hand (`ABORTED`) and never reached its failure
   * notification. The pipeline settled it from the execution's status-change event: lock released, snapshot
   * copy deleted (or retained), operation recorded as failed, notification sent.
   */
  EXECUTION_ABORTED = 'ExecutionAborted',
  /**
   * Recorded, not raised: the execution ran past the state machine's timeout (`TIMED_OUT`) and never reached
   * its failure notification. Settled like {@link PipelineErrorName.EXECUTION_ABORTED}.
   */
  EXECUTION_TIMED_OUT = 'ExecutionTimedOut',
  /**
   * This execution no longer holds the lock of the target cluster (a redrive after its lock was released, or after
   * a newer operation ran on the target). Raised before any change; never retried. Start a new restore.
   */
  LOCK_LOST = 'LockLost',
  /** The named snapshot is not a snapshot of the configured source cluster. Raised before the lock is taken. */
  SNAPSHOT_NOT_FROM_SOURCE = 'SnapshotNotFromSource',
  /** A step's Lambda function ran past its timeout more often than the state machine retries it. */
  STEP_TIMED_OUT = 'StepTimedOut',
  /**
   * The restored cluster failed a validation check: the master secret's login, a configured database, or a
   * validation query (no rows, false, 0, null, an SQL error or the statement timeout). The message names the
   * check and why, never the data a query returned.
   */
  VALIDATION_FAILED = 'ValidationFailed',
  /**
   * One or more preflight checks failed (SnapshotCheck, before the lock and before any change). The message lists
   * every failed check by its {@link PreflightCheckId} with what to fix; never a secret value.
   */
  PREFLIGHT_FAILED = 'PreflightFailed',
  /**
   * The swap's cutover could not finish. The message says which cluster carries which identifier now, whether the
   * previous target was renamed back, and what to do.
   */
  CUTOVER_FAILED = 'CutoverFailed',
  /**
   * Cross-account: the pipeline's account cannot assume the source account's role (`sourceRoleArn`): the role's
   * trust policy does not trust it, or the role does not exist. Raised before the lock and before any change.
   */
  SOURCE_ROLE_NOT_ASSUMABLE = 'SourceRoleNotAssumable',
  /**
   * Cross-account: the source snapshot is not encrypted. Its shareable copy could not be re-encrypted with the share
   * key, and could be shared with anyone: encrypt the source cluster. Raised before the lock and before any change.
   */
  SOURCE_SNAPSHOT_UNENCRYPTED = 'SourceSnapshotUnencrypted',
  /**
   * Cross-account: the shareable copy cannot be shared with the pipeline's account because RDS's limit of accounts a
   * manual snapshot may be shared with (20) is reached.
   */
  SNAPSHOT_SHARE_QUOTA_EXCEEDED = 'SnapshotShareQuotaExceeded',
  /**
   * Cross-account: RDS cannot use the source account's share key for the pipeline's account (its key policy does not
   * admit the pipeline's account through RDS, or the key is disabled or gone).
   */
  SHARE_KEY_NOT_ACCESSIBLE = 'ShareKeyNotAccessible',
}

/** The checks of the preflight, run at the start of every execution (and alone by a dry run). */
export enum PreflightCheckId {
  /** The snapshot exists in the source region, is `available` and is a snapshot of the source cluster. */
  SNAPSHOT_AVAILABLE = 'snapshot.available',
  /** The snapshot's engine is `aurora-postgresql`. */
  SNAPSHOT_ENGINE = 'snapshot.engine',
  /** The configured `engineVersion`, if any, is the snapshot's version or a valid upgrade target of it (DescribeDBEngineVersions). */
  SNAPSHOT_ENGINE_VERSION = 'snapshot.engine-version',
  /** The copy/restore key exists in the target region, is enabled, and is a symmetric encryption key (DescribeKey). */
  COPY_KEY = 'kms.copy-key',
  /** The snapshot's key, when customer managed, can be described by the pipeline in the source region and is enabled. */
  SOURCE_KEY = 'kms.source-key',
  /** The DB subnet group exists in the target region with subnets in at least two Availability Zones. */
  SUBNET_GROUP = 'network.subnet-group',
  /** Every security group of the restored cluster exists in the target region. */
  SECURITY_GROUPS = 'network.security-groups',
  /** The account's manual cluster snapshot quota (target region) has room for the snapshots this run takes. */
  SNAPSHOT_QUOTA = 'quota.cluster-snapshots',
  /** The account's DB cluster quota (target region) has room for the cluster this run creates. */
  CLUSTER_QUOTA = 'quota.clusters',
  /** Fewer than 5 cluster snapshot copies are in flight into the target region (when this run copies). */
  COPIES_IN_FLIGHT = 'quota.copies-in-flight',
  /** The target, when present, may be replaced: replaceExistingTarget, and owned by this pipeline. */
  TARGET_OWNERSHIP = 'target.ownership',
  /** The target's deletion protection is off, or the pipeline may turn it off (allowDisableDeletionProtection). */
  TARGET_DELETION_PROTECTION = 'target.deletion-protection',
  /** Reports a stopped target (the pipeline starts it before deleting it); never fails. */
  TARGET_STOPPED = 'target.stopped',
  /** The master secret is readable and holds the key `password`. */
  MASTER_SECRET = 'secrets.master',
  /** Every database user's secret is readable and holds its password key (and user name key when needed). */
  USER_SECRETS = 'secrets.users',
  /** Cross-account: the pipeline can assume the source account's role (`sourceRoleArn`). */
  SOURCE_ROLE = 'source.role',
  /** Cross-account: the source snapshot is encrypted (an unencrypted copy could be shared with anyone). */
  SOURCE_ENCRYPTED = 'source.encrypted',
  /** Cross-account: the share key exists, is enabled, is a symmetric encryption key, and is in the pipeline's region. */
  SHARE_KEY = 'kms.share-key',
}

/** The outcome of one preflight check. */
export enum PreflightCheckStatus {
  /** The check passed. */
  PASSED = 'PASSED',
  /** The check failed: see `reason` and `fix`. */
  FAILED = 'FAILED',
  /** Not applicable to this configuration or run, or not checkable because an earlier check failed (see `reason`). */
  SKIPPED = 'SKIPPED',
}

/** The result of one preflight check. Never holds a secret value. */
export interface PreflightCheckResult {
  /** The check. */
  readonly id: PreflightCheckId;
  /** Whether it passed, failed or was skipped. */
  readonly status: PreflightCheckStatus;
  /** What was found, in a sentence. */
  readonly reason: string;
  /**
   * What to do to make the check pass.
   * @default - nothing to do (passed or skipped)
   */
  readonly fix?: string;
}

/** The preflight's checklist. */
export interface PreflightReport {
  /** Whether no check failed. */
  readonly passed: boolean;
  /** Every check, in order. */
  readonly checks: PreflightCheckResult[];
  /** One paragraph: the failed checks with what to fix, or that every check passed. */
  readonly summary: string;
}

/**
 * The state of a dry run after SnapshotCheck (`{"dryRun": true}`): the checklist, and what it was checked for.
 * No lock is taken and nothing is written.
 */
export interface DryRunState {
  /** Always true: the DryRun? choice routes on it. */
  readonly dryRun: boolean;
  /** The operation's identifier (the execution's name unless the input names one). */
  readonly operationId: string;
  /** The execution's ARN. */
  readonly executionArn: string;
  /** The target cluster. */
  readonly targetClusterIdentifier: string;
  /** The target region. */
  readonly targetRegion: string;
  /**
   * The snapshot a run would restore.
   * @default - none resolved (see the `snapshot.available` check)
   */
  readonly snapshot?: SnapshotInfo;
  /** The checklist. */
  readonly preflight: PreflightReport;
}

/** How a restore replaces an existing target cluster. */
export enum ReplaceStrategy {
  /**
   * Restore beside the target under a temporary identifier, set it up (master password, users, validation), then
   * cut over: rename the target away, rename the new cluster to the target's identifier, retire the previous one.
   * The target stays up and intact until the cutover; a failure before it leaves the target as it was.
   */
  SWAP = 'SWAP',
  /**
   * Delete the target first, then restore under its identifier: for accounts that cannot hold two clusters at once.
   * The target is unavailable for the whole restore, and lost if the restore fails.
   */
  DELETE_FIRST = 'DELETE_FIRST',
}

/** What a swap's cutover does with the previous target. */
export enum PreviousTargetRetention {
  /** Delete it right after the cutover (with a final snapshot when `finalSnapshotOnDelete`). */
  DELETE = 'DELETE',
  /**
   * Keep it, renamed `arp-prev-<target>` and tagged, as a rollback window; the next swap deletes it (with a final
   * snapshot when `finalSnapshotOnDelete`) before its own cutover.
   */
  KEEP = 'KEEP',
}

/** Which cluster a DeleteRds state deletes (part of its task input). */
export enum DeleteSubject {
  /** The target, before a restore under its identifier (`ReplaceStrategy.DELETE_FIRST`). */
  TARGET = 'TARGET',
  /** A previous target an earlier swap kept (`arp-prev-<target>`), deleted before this swap's cutover. */
  KEPT_PREVIOUS = 'KEPT_PREVIOUS',
  /** The previous target this swap's cutover renamed away, retired after the cutover. */
  PREVIOUS = 'PREVIOUS',
}

/** The error names the state machine retries with backoff: transient faults and AWS throttling. */
export const TRANSIENT_ERROR_NAMES: string[] = [
  PipelineErrorName.RESOURCE_BUSY,
  PipelineErrorName.DATABASE_UNAVAILABLE,
  PipelineErrorName.AWS_SERVICE_UNAVAILABLE,
];

/** The names AWS SDK v3 gives throttling errors; handlers let them through unchanged so the state machine retries them. */
export const THROTTLING_ERROR_NAMES: string[] = ['ThrottlingException', 'Throttling', 'TooManyRequestsException'];

/** Privilege levels of a database user. */
export enum DatabasePrivilege {
  /** CONNECT, USAGE on the schemas, SELECT on tables and sequences (now and by default for future ones). */
  READ_ONLY = 'READ_ONLY',
  /** READ_ONLY plus INSERT, UPDATE, DELETE, TRUNCATE and sequence USAGE/UPDATE. */
  READ_WRITE = 'READ_WRITE',
  /** READ_WRITE plus CREATE on the databases and schemas, and ALL on tables and sequences. */
  OWNER = 'OWNER',
}

/** What SetupDbUsers does with the login roles of the restored cluster that the pipeline does not manage. */
export enum UnmanagedLogins {
  /**
   * Every login role that is not a configured user, not the master user and not one of PostgreSQL's or
   * Aurora's own (`pg_*`, `rds*`, the bootstrap superuser) gets `NOLOGIN` and loses its password
   * (`PASSWORD NULL`). The roles are not dropped: what they own and their grants stay.
   */
  DISABLE = 'DISABLE',
  /** Production's login roles stay as they are, and log in with their production passwords. */
  KEEP = 'KEEP',
}

/** A snapshot as resolved by the snapshot check. */
export interface SnapshotInfo {
  /** The snapshot's identifier. */
  readonly identifier: string;
  /** The snapshot's ARN. */
  readonly arn: string;
  /** The region the snapshot lives in. */
  readonly region: string;
  /** `manual` or `automated`. */
  readonly snapshotType: string;
  /** Engine of the snapshot, e.g. `aurora-postgresql`. */
  readonly engine: string;
  /** Engine version of the snapshot. */
  readonly engineVersion: string;
  /** Whether the snapshot is encrypted. */
  readonly storageEncrypted: boolean;
  /**
   * KMS key of the snapshot.
   * @default - unencrypted
   */
  readonly kmsKeyId?: string;
  /** When the snapshot was created (ISO 8601). */
  readonly createdAt: string;
}

/** Progress of a long-running RDS operation, driven by a Wait → check loop in the state machine. */
export interface WaitProgress {
  /** Whether the operation has finished. */
  readonly done: boolean;
  /** The last status RDS reported. */
  readonly status: string;
  /**
   * Progress in percent, where RDS reports it.
   * @default - not reported
   */
  readonly percentProgress?: number;
  /** How many checks have run. */
  readonly attempt: number;
  /** When the wait began (ISO 8601); the time budget counts from here. */
  readonly waitStartedAt: string;
  /** Seconds the next Wait state waits: guided by an expected completion where there is one, else backoff; jittered. */
  readonly nextWaitSeconds: number;
  /**
   * When this check ran (ISO 8601): the last unfinished check bounds when the operation finished.
   * @default - not recorded (a state from an older version)
   */
  readonly checkedAt?: string;
  /**
   * When the current phase began (ISO 8601): the wait's start, or the password reset's request.
   * @default - `waitStartedAt`
   */
  readonly phaseStartedAt?: string;
  /**
   * Expected duration of the current phase in seconds: the median of this target's last successful runs.
   * @default - no history
   */
  readonly expectedSeconds?: number;
  /**
   * The shortest of those runs, in seconds: from shortly before it the loop checks at pollInterval.
   * @default - `expectedSeconds`
   */
  readonly expectedEarliestSeconds?: number;
  /**
   * The longest of those runs, in seconds: past it the phase is late and the waits back off to the fallback cap.
   * @default - `expectedSeconds`
   */
  readonly expectedLatestSeconds?: number;
  /**
   * Position in the backoff of a phase that is late or unpredictable (0 = pollInterval); absent otherwise.
   * @default - not backing off
   */
  readonly rampStep?: number;
  /**
   * What set the next wait: one of {@link WAIT_BASIS}.
   * @default - backoff
   */
  readonly waitBasis?: string;
}

/**
 * The phases of the wait loops whose durations the pipeline records per target (the `HISTORY#<target>` item of the
 * state table) to schedule the next run's checks. A new wait loop adds its phase here.
 */
export const WAIT_PHASES = {
  /** The snapshot copy (CopySnapshot → CheckCopyStatus). */
  copy: 'copy',
  /**
   * A delete (DeleteRds: DELETE_FIRST's delete, a swap's kept or retired previous target), one wait: from the first
   * request (the instances', or the cluster's when it has none) until the cluster is gone. The cluster's delete
   * (with its final snapshot) is requested once every instance is `deleting`, which is all RDS requires. Earlier
   * versions recorded the delete as two phases, `deleteInstances` and `deleteCluster`: no longer read or written.
   */
  delete: 'delete',
  /** The restore, until the cluster and its writer are available (RestoreSnapshot → CheckRestoreStatus). */
  restore: 'restore',
  /** The master password reset after the restore (CheckRestoreStatus). */
  passwordReset: 'passwordReset',
  /** A swap's first rename (Cutover): the target renamed away, from the request until it is available again. */
  renameTargetAway: 'renameTargetAway',
  /** A swap's second rename (Cutover): the new cluster renamed to the target's identifier, until it is available. */
  renameNewCluster: 'renameNewCluster',
};

/** What set a wait ({@link WaitProgress.waitBasis}). */
export const WAIT_BASIS = {
  /** Extrapolated from RDS's `PercentProgress` and its rate so far. */
  progress: 'progress',
  /** From the durations of this target's previous successful runs. */
  history: 'history',
  /** Nothing to go on: backoff from pollInterval to the fallback cap. */
  backoff: 'backoff',
};

/**
 * Fixed parts of the wait policy (lambda-src/lib/waits.ts), shared with the synth-time check of the execution history
 * (src/validation.ts) so both count the same worst case.
 */
export const WAIT_POLICY = {
  /**
   * Cap of the waits when nothing predicts the completion, in seconds (never above maxPollInterval, never below
   * pollInterval; raised when the loop's budget needs longer waits to fit its checks).
   */
  fallbackCapSeconds: 90,
  /**
   * Before an expected completion, each wait is at most this share of the time left until the checks become frequent,
   * so that an operation quicker than every recorded run is found within about as long as it was early, not a
   * maxPollInterval later.
   */
  approachFraction: 1 / 2,
  /** A completion window narrower than this many pollIntervals is checked every pollInterval; a wider one less often. */
  windowChecks: 4,
  /** The longest interval within a completion window, in pollIntervals. */
  wideWindowFactor: 2,
  /** Each wait is multiplied by a random factor within 1 ± this, then kept within [pollInterval, maxPollInterval]. */
  jitter: 0.03,
  /**
   * The jitter of the coarse waits: a backoff (nothing predicts the completion) and the approach towards an expected
   * completion window (at most half the time left, so even +25 % ends before the window). Their exact length buys no
   * detection, and a wide jitter spreads a fleet of pipelines started together over the minute within a few waits.
   */
  coarseJitter: 0.25,
  /**
   * The jitter of a backoff's waits once they reach its cap (a first run's restore, a phase running late): a long run of
   * equal waits, in which a fleet started together would otherwise keep checking in the same minutes (their drift grows
   * only with the square root of the checks). ±50 % spreads them over the cap within two or three waits, and costs the
   * detection little: the expected lag of a check interval drawn from 1 ± 50 % is 8 % above that of a fixed one.
   */
  cappedJitter: 0.5,
  /** Records kept per phase and target; the expected duration is the median of the last {@link WAIT_POLICY.historyMedianOf}. */
  historyKept: 10,
  /** How many of the latest records the median takes. */
  historyMedianOf: 5,
  /**
   * Wait loops of an execution that deletes the target first (copy, delete, restore): the checks allowed per loop
   * divide the history by the loops of the configured flow ({@link waitLoopsPerExecution}); this is the fewest.
   */
  loopsPerExecution: 3,
  /**
   * Checks a swap's own loop (a rename, a delete of a few minutes) may make beyond those that cover its budget at
   * maxPollInterval: its frequent checks near a completion (10 minutes of them at a 10 s pollInterval) before the
   * history floor lengthens its waits.
   */
  swapStepSpareChecks: 60,
  /** Step Functions' limit of events in one execution's history. */
  historyEventLimit: 25_000,
  /** Execution history events of one check of a loop: Wait (2), Lambda task (5), Choice (2). */
  eventsPerCheck: 9,
  /** Events of the rest of an execution (the steps outside the loops, their retries, the notification), with margin. */
  eventsOutsideLoops: 300,
};

/**
 * Checks one wait loop may make, so that every loop at its limit still fits the execution history: a loop that has
 * used many of them waits longer, so that the rest, at maxPollInterval, still reach the end of its budget.
 */
export const MAX_CHECKS_PER_LOOP = maxChecksPerLoop(WAIT_POLICY.loopsPerExecution);

/** The checks one wait loop may make when an execution goes through `loops` of them (see {@link MAX_CHECKS_PER_LOOP}). */
export function maxChecksPerLoop(loops: number): number {
  return Math.floor((WAIT_POLICY.historyEventLimit - WAIT_POLICY.eventsOutsideLoops) / (WAIT_POLICY.eventsPerCheck * loops));
}

/**
 * The wait loops one execution of the configured flow can go through. DELETE_FIRST: the copy, the delete, the restore
 * (3). SWAP: the copy, the restore, the delete of a previous target an earlier swap kept, the cutover, and with
 * DELETE the retirement of the previous target (5; 4 with KEEP).
 */
export function waitLoopsPerExecution(strategy: ReplaceStrategy, retention: PreviousTargetRetention): number {
  if (strategy !== ReplaceStrategy.SWAP) return WAIT_POLICY.loopsPerExecution;
  return retention === PreviousTargetRetention.KEEP ? 4 : 5;
}

/** How the execution history's checks are shared among the wait loops of a flow ({@link checkShares}). */
export interface CheckShares {
  /** The loops of the data: the copy and the restore, and DELETE_FIRST's delete. */
  readonly mainLoops: number;
  /** Checks each of them may make. */
  readonly checksPerLoop: number;
  /** A swap's other loops: the kept previous target's delete, the cutover, the retirement (none for DELETE_FIRST). */
  readonly swapStepLoops: number;
  /** Checks each of those may make: enough to cover the budget at maxPollInterval, and {@link WAIT_POLICY.swapStepSpareChecks}. */
  readonly checksPerSwapStep: number;
}

/**
 * The checks each wait loop of the flow may make, so that every loop at its limit still fits the execution history.
 * A swap's own loops (renames, deletes of a few minutes) get what covers their budget at maxPollInterval and a few
 * frequent checks more; the copy and the restore share the rest, so they keep most of the checks (and so the short
 * waits) of DELETE_FIRST's three equal loops.
 */
export function checkShares(loops: number, budgetSeconds: number, maxPollSeconds: number): CheckShares {
  const available = WAIT_POLICY.historyEventLimit - WAIT_POLICY.eventsOutsideLoops;
  const swapStepLoops = Math.max(0, loops - 2);
  if (loops <= WAIT_POLICY.loopsPerExecution) {
    return { mainLoops: loops, checksPerLoop: maxChecksPerLoop(loops), swapStepLoops: 0, checksPerSwapStep: 0 };
  }
  const coverBudget = Math.ceil(budgetSeconds / Math.max(1, maxPollSeconds)) + 1;
  const checksPerSwapStep = Math.min(MAX_CHECKS_PER_LOOP, coverBudget + WAIT_POLICY.swapStepSpareChecks);
  const rest = available - WAIT_POLICY.eventsPerCheck * swapStepLoops * checksPerSwapStep;
  const checksPerLoop = Math.max(1, Math.floor(rest / (WAIT_POLICY.eventsPerCheck * 2)));
  return { mainLoops: 2, checksPerLoop, swapStepLoops, checksPerSwapStep };
}

/** Output of copy-snapshot and check-copy-status (`$.copy`). */
export interface CopyProgress extends WaitProgress {
  /** Identifier of the copy in the target region. */
  readonly snapshotIdentifier: string;
  /** ARN of the copy. */
  readonly snapshotArn: string;
  /** KMS key of the copy; empty for the (unencrypted) copy of an unencrypted snapshot. */
  readonly kmsKeyId: string;
}

/** Output of delete-rds, which is its own status check (`$.delete`). */
export interface DeleteProgress extends WaitProgress {
  /** Whether there was a target cluster to delete. */
  readonly targetExisted: boolean;
  /**
   * Identifier of the final snapshot taken before deletion.
   * @default - none taken
   */
  readonly finalSnapshotIdentifier?: string;
  /**
   * The operation the final snapshot is named after (and tagged with): this one, or for a kept previous target the
   * operation that kept it.
   * @default - none taken
   */
  readonly finalSnapshotOperationId?: string;
  /**
   * Older final snapshots of this pipeline deleted after this one was taken (`finalSnapshotsToKeep`).
   * @default - none
   */
  readonly finalSnapshotsDeleted?: string[];
  /**
   * The phase being waited for, for its history: {@link WAIT_PHASES}.delete once a delete was requested.
   * @default - none requested yet
   */
  readonly phase?: string;
}

/** Output of cutover, which is its own status check (`$.cutover`). */
export interface CutoverProgress extends WaitProgress {
  /** The phase reached: `renaming-target-away`, `renaming-new-cluster`, `done`. */
  readonly phase: string;
  /** The temporary cluster that becomes the target. */
  readonly temporaryClusterIdentifier: string;
  /** The identifier the previous target gets. */
  readonly previousClusterIdentifier: string;
  /**
   * When the first rename was requested (ISO 8601): the target is unavailable from then on.
   * @default - not yet requested
   */
  readonly renameRequestedAt?: string;
  /**
   * Seconds from the first rename request until the new cluster was available under the target's identifier.
   * @default - not yet done
   */
  readonly targetUnavailableSeconds?: number;
  /**
   * The target's writer endpoint after the cutover.
   * @default - not yet done
   */
  readonly endpoint?: string;
}

/** Output of restore-snapshot and check-restore-status (`$.restore`). */
export interface RestoreProgress extends WaitProgress {
  /** The restored cluster's identifier. */
  readonly clusterIdentifier: string;
  /** The restored cluster's ARN. */
  readonly clusterArn: string;
  /** The writer instance's identifier. */
  readonly instanceIdentifier: string;
  /** Whether the master password has been reset to the target's secret and the change has been applied. */
  readonly masterPasswordReset: boolean;
  /**
   * When check-restore-status asked RDS to reset the master password (ISO 8601); the reset counts as
   * applied only on a later check, once RDS no longer lists it as pending.
   * @default - not requested yet
   */
  readonly masterPasswordResetRequestedAt?: string;
  /**
   * The writer endpoint.
   * @default - not yet available
   */
  readonly endpoint?: string;
  /**
   * The reader endpoint.
   * @default - not yet available
   */
  readonly readerEndpoint?: string;
  /**
   * The database port.
   * @default - not yet available
   */
  readonly port?: number;
  /**
   * The engine version of the restored cluster.
   * @default - not yet available
   */
  readonly engineVersion?: string;
  /**
   * The master user name (from the snapshot).
   * @default - not yet available
   */
  readonly masterUsername?: string;
  /**
   * DELETE_FIRST over an existing target: seconds from the delete's start until the restored cluster was available.
   * @default - no target was deleted
   */
  readonly targetUnavailableSeconds?: number;
}

/** Output of setup-db-users (`$.dbUsers`). */
export interface DbUsersResult {
  /** Role names that were created by this run. */
  readonly created: string[];
  /** Role names that already existed and were updated. */
  readonly updated: string[];
  /** Databases in which grants were applied. */
  readonly databases: string[];
  /** Login roles this run disabled (`NOLOGIN`, password removed), by name. Empty with `UnmanagedLogins.KEEP`. */
  readonly disabledLogins: string[];
  /** Role memberships of the configured users this run revoked, as `<role> from <user>`. */
  readonly revokedMemberships: string[];
}

/** Output of validate-restore (`$.validation`): every check passed, or the step failed with ValidationFailed. */
export interface ValidationResult {
  /** How many checks passed (all of them). */
  readonly passed: number;
  /** The checks' names, in the order they ran: the built-in ones (`built-in:…`), then the configured queries. */
  readonly checks: string[];
}

/** A validation query as validate-restore receives it: its database resolved. */
export interface ValidationQuerySpec {
  /** The query's name, used in messages and in {@link ValidationResult.checks}. */
  readonly name: string;
  /** The database it runs in. */
  readonly database: string;
  /** One SQL statement; it passes when a row's first column is true or a number > 0. */
  readonly sql: string;
}

/**
 * Payload of the validate-restore task: the state (whose `restore` names the cluster to validate, as
 * RestoreSnapshot and CheckRestoreStatus reported it), the databases that must exist and the queries to run.
 */
export interface ValidateRestoreEvent {
  /** The pipeline state (`$`). */
  readonly state: PipelineState;
  /** Databases that must accept the master user's connection (built-in check). */
  readonly databases: string[];
  /** The configured queries, in order. */
  readonly queries: ValidationQuerySpec[];
  /** `statement_timeout` (and `lock_timeout`) of each query, in seconds. */
  readonly statementTimeoutSeconds: number;
}

/** Output of archive-snapshot (`$.archive`). */
export interface ArchiveResult {
  /** `deleted`, `retained` or `none` (nothing was copied). */
  readonly action: string;
  /**
   * The snapshot copy acted on.
   * @default - none
   */
  readonly snapshotIdentifier?: string;
}

/** The error caught by a state's Catch (`$.error`), as Step Functions writes it. */
export interface CaughtError {
  /** The error name. */
  readonly Error: string;
  /** The error cause (for a Lambda error: a JSON string with errorType and errorMessage). */
  readonly Cause: string;
}

/**
 * The state that flows through the state machine. snapshot-check creates it; each following step adds
 * its own field through its ResultPath.
 */
export interface PipelineState {
  /** The operation's identifier. */
  readonly operationId: string;
  /** The execution's ARN. */
  readonly executionArn: string;
  /** When the operation started (ISO 8601). */
  readonly startedAt: string;
  /** The source cluster. */
  readonly sourceClusterIdentifier: string;
  /** The source region. */
  readonly sourceRegion: string;
  /** The target cluster. */
  readonly targetClusterIdentifier: string;
  /** The target region (the stack's). */
  readonly targetRegion: string;
  /** The snapshot to restore from. */
  readonly snapshot: SnapshotInfo;
  /** Whether the snapshot must be copied into the target region first. */
  readonly copyRequired: boolean;
  /** Whether the target cluster exists now and will be replaced. */
  readonly replaceTarget: boolean;
  /**
   * Whether the target is replaced by a swap (`ReplaceStrategy.SWAP` and an existing target): the restore goes to a
   * temporary cluster, and the cutover renames it to the target's identifier.
   * @default false
   */
  readonly swap?: boolean;
  /**
   * Identifier of the snapshot the restore uses: the copy when one is made, else the source snapshot's ARN; across
   * accounts, the ARN of the shareable copy in the source account.
   */
  readonly restoreSnapshotIdentifier: string;
  /**
   * Copy progress.
   * @default - no copy
   */
  readonly copy?: CopyProgress;
  /**
   * Delete progress.
   * @default - no delete
   */
  readonly delete?: DeleteProgress;
  /**
   * Restore progress.
   * @default - not started
   */
  readonly restore?: RestoreProgress;
  /**
   * Database users.
   * @default - not run
   */
  readonly dbUsers?: DbUsersResult;
  /**
   * Validation summary.
   * @default - not run
   */
  readonly validation?: ValidationResult;
  /**
   * Deletion of a previous target an earlier swap kept, before this swap's cutover.
   * @default - not run
   */
  readonly keptPrevious?: DeleteProgress;
  /**
   * Cutover progress (swap).
   * @default - not run
   */
  readonly cutover?: CutoverProgress;
  /**
   * Retirement of the previous target after the cutover.
   * @default - not run
   */
  readonly retire?: DeleteProgress;
  /**
   * Archive result.
   * @default - not run
   */
  readonly archive?: ArchiveResult;
  /**
   * The caught error, on the failure path.
   * @default - none
   */
  readonly error?: CaughtError;
}

/** Payload of the snapshot-check task. */
export interface SnapshotCheckEvent {
  /** The execution input, unvalidated. The handler validates it. */
  readonly input: any;
  /** `$$.Execution.Id`. */
  readonly executionArn: string;
  /** `$$.Execution.Name`. */
  readonly executionName: string;
  /** `$$.Execution.StartTime`. */
  readonly executionStartTime: string;
  /**
   * The database users (names, secret ARNs, keys; never a value): the preflight checks their secrets.
   * @default - none
   */
  readonly users?: DbUserSpec[];
}

/** Payload of the DeleteRds tasks that delete a previous target (a swap's); the target's own delete passes the state. */
export interface DeleteRdsEvent {
  /** The pipeline state (`$`). */
  readonly state: PipelineState;
  /** Which cluster to delete. */
  readonly subject: DeleteSubject;
}

/**
 * Payload of the setup-db-users task: the state, and the users to reconcile. The user list is part of the
 * state machine's definition rather than of the function's environment, which Lambda limits to 4 KB.
 */
export interface SetupDbUsersEvent {
  /** The pipeline state (`$`). */
  readonly state: PipelineState;
  /** The users to reconcile (names, secret ARNs and grants; never a secret value). */
  readonly users: DbUserSpec[];
  /** What to do with the other login roles of the restored cluster. */
  readonly unmanagedLogins: UnmanagedLogins;
}

/** Payload of the sns-notification task, on both paths and for a dry run. */
export interface NotificationEvent {
  /** `SUCCEEDED`, `FAILED` or `DRY_RUN` (the state is then a {@link DryRunState}). */
  readonly status: string;
  /** The state as it was when the pipeline finished or failed. It may lack fields when an early step failed. */
  readonly state: any;
  /** `$$.Execution.Id`. */
  readonly executionArn: string;
  /** `$$.Execution.Name`. */
  readonly executionName: string;
  /** `$$.Execution.StartTime`. */
  readonly executionStartTime: string;
  /** `$$.Execution.Input`. */
  readonly input: any;
}

/** The EventBridge `source` and `detail-type` of a Step Functions execution status change. */
export const EXECUTION_STATUS_CHANGE = {
  /** The event's `source`. */
  source: 'aws.states',
  /** The event's `detail-type`. */
  detailType: 'Step Functions Execution Status Change',
};

/**
 * The `detail` of a Step Functions execution status change event, as EventBridge delivers it (fields the
 * pipeline reads; EventBridge adds more).
 */
export interface ExecutionStatusChangeDetail {
  /** The execution's ARN. */
  readonly executionArn: string;
  /** The state machine's ARN. */
  readonly stateMachineArn: string;
  /** The execution's name. */
  readonly name: string;
  /** `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED` or `PENDING_REDRIVE`. */
  readonly status: string;
  /** When the execution started (epoch milliseconds). */
  readonly startDate: number;
  /**
   * When the execution stopped (epoch milliseconds).
   * @default - still running
   */
  readonly stopDate?: number;
  /**
   * The execution input, as a JSON string (absent when too large for the event).
   * @default - not included
   */
  readonly input?: string;
  /**
   * How often the execution had been redriven when this change happened.
   * @default - not included
   */
  readonly redriveCount?: number;
}

/**
 * A Step Functions execution status change event (EventBridge). The pipeline's rule delivers the
 * `ABORTED` and `TIMED_OUT` changes of its state machine to the sns-notification function, which settles
 * executions that never reached their failure notification.
 */
export interface ExecutionStatusChangeEvent {
  /** `aws.states`. */
  readonly 'source': string;
  /** `Step Functions Execution Status Change`. */
  readonly 'detail-type': string;
  /** The event's ID. */
  readonly 'id': string;
  /** When the change happened (ISO 8601). */
  readonly 'time': string;
  /** The region of the state machine. */
  readonly 'region': string;
  /** The account of the state machine. */
  readonly 'account': string;
  /** The change. */
  readonly 'detail': ExecutionStatusChangeDetail;
}

/** Status values written to the state item. */
export enum OperationStatus {
  /** The pipeline is running. */
  RUNNING = 'RUNNING',
  /** The pipeline finished. */
  SUCCEEDED = 'SUCCEEDED',
  /** The pipeline failed; see the error fields. */
  FAILED = 'FAILED',
}

/** Tag keys the pipeline puts on what it creates; delete-rds and archive-snapshot check them. */
export enum PipelineTag {
  /** Identifies the pipeline that created a cluster or snapshot copy. The ownership proof. */
  PIPELINE = 'aurora-restore-pipeline:pipeline',
  /** The operation that created the resource. */
  OPERATION_ID = 'aurora-restore-pipeline:operation-id',
  /** The snapshot a cluster was restored from. */
  SOURCE_SNAPSHOT = 'aurora-restore-pipeline:source-snapshot',
  /** Set to `true` on a snapshot copy kept after the restore (`retainSnapshotCopy`). */
  RETAINED = 'aurora-restore-pipeline:retained',
  /**
   * On a final snapshot the pipeline took before deleting the target: the operation that took it. With the
   * pipeline tag and the final-snapshot name, what the retention (`finalSnapshotsToKeep`) may delete.
   */
  FINAL_SNAPSHOT = 'aurora-restore-pipeline:final-snapshot-of',
  /** On the previous target a swap renamed away: the operation whose cutover did it. */
  PREVIOUS_TARGET = 'aurora-restore-pipeline:previous-target-of',
  /** Set to `true` on a temporary cluster kept for inspection after a failed swap (`retainFailedRestore`). */
  FAILED_RESTORE = 'aurora-restore-pipeline:failed-restore',
  /**
   * On a shareable copy made in the source account by `AuroraRestoreSource`'s role: the source cluster it is a
   * copy of. The role may share and delete only copies carrying it.
   */
  SHARE_OF = 'aurora-restore-pipeline:share-of',
}

/** A key/value tag. */
export interface TagEntry {
  /** Tag key. */
  readonly key: string;
  /** Tag value. */
  readonly value: string;
}

/** One database user to reconcile, as the setup-db-users handler receives it. */
export interface DbUserSpec {
  /**
   * Role name. When absent, the name is read from the secret's `usernameKey`.
   * @default - from the secret
   */
  readonly username?: string;
  /** ARN of the secret holding the password (and the name, when `username` is absent). */
  readonly secretArn: string;
  /** JSON key of the user name in the secret. */
  readonly usernameKey: string;
  /** JSON key of the password in the secret. */
  readonly passwordKey: string;
  /** The privilege level. */
  readonly privilege: DatabasePrivilege;
  /** Databases to grant on. */
  readonly databases: string[];
  /** Schemas to grant on, in each database. */
  readonly schemas: string[];
  /**
   * The role's connection limit.
   * @default - no limit
   */
  readonly connectionLimit?: number;
}

/** Settings of the restored cluster, for restore-snapshot and check-restore-status. */
export interface RestoreSettings {
  /** DB subnet group name. */
  readonly subnetGroupName: string;
  /** VPC security group IDs of the cluster. */
  readonly securityGroupIds: string[];
  /** Writer instance class, e.g. `db.serverless` or `db.r6g.large`. */
  readonly instanceClass: string;
  /** Writer instance identifier. */
  readonly instanceIdentifier: string;
  /** Serverless v2 minimum ACUs (used when the class is `db.serverless`). */
  readonly serverlessV2MinCapacity: number;
  /** Serverless v2 maximum ACUs (used when the class is `db.serverless`). */
  readonly serverlessV2MaxCapacity: number;
  /**
   * Engine version override.
   * @default - the snapshot's
   */
  readonly engineVersion?: string;
  /**
   * Cluster parameter group name.
   * @default - the engine's default
   */
  readonly clusterParameterGroupName?: string;
  /** Deletion protection of the restored cluster. */
  readonly deletionProtection: boolean;
  /** Database port. */
  readonly port: number;
  /** KMS key (ARN) that encrypts the restored cluster. */
  readonly kmsKeyArn: string;
  /** Tags of the restored cluster and its writer (the ownership tags are added by the handler). */
  readonly tags: TagEntry[];
  /** Secret (ARN) with the master password (JSON key `password`) the restored cluster gets. */
  readonly masterSecretArn: string;
}

/** Wait loop tuning, for every handler that reports {@link WaitProgress}. */
export interface WaitSettings {
  /** First wait, in seconds. */
  readonly pollIntervalSeconds: number;
  /** Cap of the wait, in seconds. */
  readonly maxPollIntervalSeconds: number;
  /** Multiplier of the wait after each check. */
  readonly backoffRate: number;
  /** Time budget of one wait loop, in seconds. */
  readonly budgetSeconds: number;
  /**
   * The checks one wait loop of the copy, the restore or DELETE_FIRST's delete may make: its share of the execution
   * history for the configured flow ({@link checkShares}).
   * @default MAX_CHECKS_PER_LOOP (a flow of three loops)
   */
  readonly maxChecksPerLoop?: number;
  /**
   * The checks one of a swap's own loops (the kept previous target's delete, the cutover, the retirement) may make.
   * @default - maxChecksPerLoop
   */
  readonly maxChecksPerSwapStep?: number;
}

/**
 * The configuration every handler receives, as JSON in the `PIPELINE_CONFIG` environment variable.
 * It holds names and ARNs, never a secret value.
 */
export interface PipelineConfig {
  /** Value of the ownership tag (`aurora-restore-pipeline:pipeline`) of this pipeline. */
  readonly pipelineId: string;
  /** Source cluster identifier. */
  readonly sourceClusterIdentifier: string;
  /** Source region. */
  readonly sourceRegion: string;
  /** Target cluster identifier. */
  readonly targetClusterIdentifier: string;
  /** Target region. */
  readonly targetRegion: string;
  /** State table name. */
  readonly stateTableName: string;
  /** Audit table name. */
  readonly auditTableName: string;
  /** Topic ARN for notifications. */
  readonly topicArn: string;
  /** Whether automated snapshots count when looking for the latest. */
  readonly includeAutomatedSnapshots: boolean;
  /** KMS key (ARN, target region) that encrypts the snapshot copy. */
  readonly snapshotCopyKeyArn: string;
  /** Tags added to the snapshot copy and the restored cluster. */
  readonly tags: TagEntry[];
  /** Replace an existing target cluster. */
  readonly replaceExistingTarget: boolean;
  /** Treat an existing target without the ownership tag as owned by this pipeline. */
  readonly assumeTargetOwned: boolean;
  /** Take a final snapshot before deleting the target. */
  readonly finalSnapshotOnDelete: boolean;
  /** Turn off the target's deletion protection before deleting it. */
  readonly allowDisableDeletionProtection: boolean;
  /** Keep the snapshot copy after the restore (tagged) instead of deleting it. */
  readonly retainSnapshotCopy: boolean;
  /** Settings of the restored cluster. */
  readonly restore: RestoreSettings;
  /** Wait loop tuning. */
  readonly waits: WaitSettings;
  /** Seconds after which state items expire (DynamoDB TTL). */
  readonly stateTtlSeconds: number;
  /** Seconds after which a lock on the target is considered stale (the state machine's timeout). */
  readonly lockTtlSeconds: number;
  /**
   * How many final snapshots of the target (taken by this pipeline before a delete) to keep; older ones it made
   * are deleted after each new one.
   */
  readonly finalSnapshotsToKeep: number;
  /** How an existing target is replaced. */
  readonly replaceStrategy: ReplaceStrategy;
  /** What a swap's cutover does with the previous target. */
  readonly previousTargetRetention: PreviousTargetRetention;
  /** Keep (tagged) instead of delete a swap's temporary cluster when the run fails before the cutover. */
  readonly retainFailedRestore: boolean;
  /**
   * Cross-account: the account of the source cluster. Set together with `sourceRoleArn` and `sourceShareKeyArn`.
   * @default - the pipeline's own account
   */
  readonly sourceAccount?: string;
  /**
   * Cross-account: the role of `AuroraRestoreSource` the handlers assume in the source account.
   * @default - none: the source is in the pipeline's account
   */
  readonly sourceRoleArn?: string;
  /**
   * Cross-account: the share key of `AuroraRestoreSource` (source account, pipeline's region) the shareable copy is
   * encrypted with.
   * @default - none: the source is in the pipeline's account
   */
  readonly sourceShareKeyArn?: string;
  /**
   * Cross-account: the pipeline's own account, the one the shareable copy is shared with.
   * @default - none: the source is in the pipeline's account
   */
  readonly pipelineAccount?: string;
}

/** Name of the environment variable that carries the {@link PipelineConfig} JSON. */
export const PIPELINE_CONFIG_ENV = 'PIPELINE_CONFIG';

/** DynamoDB attribute names of the state and audit tables. */
export const TABLE_KEYS = {
  /** Partition key of both tables. */
  partitionKey: 'operation_id',
  /** Sort key of the audit table: `<ISO time>#<step>`. */
  auditSortKey: 'time_step',
  /** TTL attribute of the state table (epoch seconds). */
  ttlAttribute: 'expires_at',
  /** Prefix of the lock items in the state table: `LOCK#<target cluster>`. */
  lockPrefix: 'LOCK#',
  /**
   * Prefix of the items that record the last operation that took the lock of a target: `LAST#<target cluster>`.
   * A redriven execution re-takes its lock only when this still names it.
   */
  lastOperationPrefix: 'LAST#',
  /** Prefix of the items that record how long each wait phase of a target's last successful runs took: `HISTORY#<target cluster>`. */
  historyPrefix: 'HISTORY#',
};

/** The pipeline's steps: the name of each step's state, which is also the audit entry's step. */
export const STEP_NAMES = {
  snapshotCheck: 'SnapshotCheck',
  copySnapshot: 'CopySnapshot',
  checkCopyStatus: 'CheckCopyStatus',
  deleteRds: 'DeleteRds',
  restoreSnapshot: 'RestoreSnapshot',
  checkRestoreStatus: 'CheckRestoreStatus',
  setupDbUsers: 'SetupDbUsers',
  validateRestore: 'ValidateRestore',
  archiveSnapshot: 'ArchiveSnapshot',
  snsNotification: 'SnsNotification',
  /** DeleteRds deleting a previous target an earlier swap kept, before the cutover. */
  deleteKeptPrevious: 'DeleteKeptPreviousTarget',
  cutover: 'Cutover',
  /** DeleteRds retiring the previous target after the cutover. */
  retirePrevious: 'RetirePreviousTarget',
};

/** The `status` of a dry run's notification (and its SNS message attribute). */
export const DRY_RUN_STATUS = 'DRY_RUN';
