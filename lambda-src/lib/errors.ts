import { PipelineErrorName, THROTTLING_ERROR_NAMES } from '../../src/contracts';

/**
 * An error the state machine can route on: `name` is one of {@link PipelineErrorName}, and the message
 * says what is wrong and what to do. Lambda reports `name` as the error type, which becomes the
 * Step Functions error name.
 */
export class PipelineError extends Error {
  constructor(public readonly errorName: PipelineErrorName, message: string) {
    super(message);
    this.name = errorName;
  }
}

/** Shorthand constructors, one per named error. */
export const errors = {
  invalidInput: (msg: string) => new PipelineError(PipelineErrorName.INVALID_INPUT, msg),
  snapshotNotFound: (msg: string) => new PipelineError(PipelineErrorName.SNAPSHOT_NOT_FOUND, msg),
  unsupportedEngine: (msg: string) => new PipelineError(PipelineErrorName.UNSUPPORTED_ENGINE, msg),
  alreadyInProgress: (msg: string) => new PipelineError(PipelineErrorName.RESTORE_ALREADY_IN_PROGRESS, msg),
  targetAlreadyExists: (msg: string) => new PipelineError(PipelineErrorName.TARGET_ALREADY_EXISTS, msg),
  targetNotOwned: (msg: string) => new PipelineError(PipelineErrorName.TARGET_NOT_OWNED, msg),
  sourceClusterProtected: (msg: string) => new PipelineError(PipelineErrorName.SOURCE_CLUSTER_PROTECTED, msg),
  deletionProtected: (msg: string) => new PipelineError(PipelineErrorName.DELETION_PROTECTED, msg),
  kmsKeyNotAccessible: (msg: string) => new PipelineError(PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE, msg),
  snapshotQuotaExceeded: (msg: string) => new PipelineError(PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED, msg),
  snapshotCopyFailed: (msg: string) => new PipelineError(PipelineErrorName.SNAPSHOT_COPY_FAILED, msg),
  restoreFailed: (msg: string) => new PipelineError(PipelineErrorName.RESTORE_FAILED, msg),
  operationTimedOut: (msg: string) => new PipelineError(PipelineErrorName.OPERATION_TIMED_OUT, msg),
  secretInvalid: (msg: string) => new PipelineError(PipelineErrorName.SECRET_INVALID, msg),
  invalidRoleName: (msg: string) => new PipelineError(PipelineErrorName.INVALID_ROLE_NAME, msg),
  databaseSetupFailed: (msg: string) => new PipelineError(PipelineErrorName.DATABASE_SETUP_FAILED, msg),
  resourceBusy: (msg: string) => new PipelineError(PipelineErrorName.RESOURCE_BUSY, msg),
  databaseUnavailable: (msg: string) => new PipelineError(PipelineErrorName.DATABASE_UNAVAILABLE, msg),
  serviceUnavailable: (msg: string) => new PipelineError(PipelineErrorName.AWS_SERVICE_UNAVAILABLE, msg),
  permissionDenied: (msg: string) => new PipelineError(PipelineErrorName.PERMISSION_DENIED, msg),
  lockLost: (msg: string) => new PipelineError(PipelineErrorName.LOCK_LOST, msg),
  snapshotNotFromSource: (msg: string) => new PipelineError(PipelineErrorName.SNAPSHOT_NOT_FROM_SOURCE, msg),
  validationFailed: (msg: string) => new PipelineError(PipelineErrorName.VALIDATION_FAILED, msg),
  preflightFailed: (msg: string) => new PipelineError(PipelineErrorName.PREFLIGHT_FAILED, msg),
  cutoverFailed: (msg: string) => new PipelineError(PipelineErrorName.CUTOVER_FAILED, msg),
  sourceRoleNotAssumable: (msg: string) => new PipelineError(PipelineErrorName.SOURCE_ROLE_NOT_ASSUMABLE, msg),
  sourceSnapshotUnencrypted: (msg: string) => new PipelineError(PipelineErrorName.SOURCE_SNAPSHOT_UNENCRYPTED, msg),
  snapshotShareQuotaExceeded: (msg: string) => new PipelineError(PipelineErrorName.SNAPSHOT_SHARE_QUOTA_EXCEEDED, msg),
  shareKeyNotAccessible: (msg: string) => new PipelineError(PipelineErrorName.SHARE_KEY_NOT_ACCESSIBLE, msg),
};

interface AwsLikeError {
  name?: string;
  message?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  code?: string;
}

/** Whether an error is AWS throttling, which the state machine retries under its own name. */
export function isThrottling(err: unknown): boolean {
  const e = err as AwsLikeError;
  return !!e && typeof e.name === 'string' && THROTTLING_ERROR_NAMES.includes(e.name);
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError', 'RequestTimeout']);

/**
 * Maps an AWS SDK error onto a named pipeline error, with `context` (what the handler was doing) in the
 * message. Throttling passes through unchanged so it keeps its retryable name; a {@link PipelineError}
 * passes through as it is; an unknown client error passes through too, so nothing is hidden.
 */
export function mapAwsError(err: unknown, context: string): Error {
  if (err instanceof PipelineError || isThrottling(err)) return err as Error;
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? '';
  const detail = e.message ?? String(err);
  switch (name) {
    case 'DBClusterSnapshotNotFoundFault':
    case 'DBSnapshotNotFoundFault':
      return errors.snapshotNotFound(`${context}: the snapshot does not exist (${detail}). Check the snapshot identifier and the source region, or leave snapshotIdentifier out to use the latest available snapshot.`);
    case 'InvalidDBClusterStateFault':
    case 'InvalidDBInstanceStateFault':
    case 'InvalidDBClusterSnapshotStateFault':
      return errors.resourceBusy(`${context}: the resource is busy with another change (${detail}). The step is retried; if it persists, check the resource in the RDS console.`);
    case 'SnapshotQuotaExceededFault':
    case 'SnapshotQuotaExceeded':
      return errors.snapshotQuotaExceeded(`${context}: the snapshot quota is reached, or 5 cross-region copies are already in flight (${detail}). Delete old manual snapshots or wait for other copies to finish, then start the restore again.`);
    case 'KMSKeyNotAccessibleFault':
      return errors.kmsKeyNotAccessible(`${context}: RDS cannot use the KMS key (${detail}). Check that the key exists in the target region, is enabled, and that its key policy lets this pipeline's role use it (kms:CreateGrant, kms:DescribeKey); for a customer-managed source key, the source key must allow it too.`);
    case 'DBClusterAlreadyExistsFault':
      return errors.targetAlreadyExists(`${context}: a cluster with this identifier already exists (${detail}). Let the pipeline replace it (replaceExistingTarget) or choose another target identifier.`);
    case 'ResourceNotFoundException':
    case 'DecryptionFailure':
    case 'AccessDeniedException':
      if (context.toLowerCase().includes('secret')) {
        return errors.secretInvalid(`${context}: the secret cannot be read (${name}). Check that it exists and that the pipeline's role may read and decrypt it.`);
      }
      if (name === 'AccessDeniedException') return permissionDenied(context, detail);
      break;
    case 'AccessDenied':
    case 'AccessDeniedFault':
    case 'UnauthorizedOperation':
      return permissionDenied(context, detail);
    default:
      break;
  }
  const status = e.$metadata?.httpStatusCode;
  if (e.$fault === 'server' || (status !== undefined && status >= 500) || NETWORK_CODES.has(name) || (e.code !== undefined && NETWORK_CODES.has(e.code))) {
    return errors.serviceUnavailable(`${context}: AWS answered with a server or network error (${name || e.code}: ${detail}). The step is retried.`);
  }
  return err instanceof Error ? err : new Error(`${context}: ${detail}`);
}

function permissionDenied(context: string, detail: string): PipelineError {
  return errors.permissionDenied(`${context}: the pipeline's role is not allowed to do this (${detail}). The pipeline deletes, modifies `
    + 'and tags only resources carrying its ownership tag (aurora-restore-pipeline:pipeline), creates only the target cluster and its '
    + 'writer, and names its snapshots arp-copy-<target>-… and arp-final-<target>-…: check that the resource is one of these and carries '
    + 'the tag (for a cluster made by hand, set assumeTargetOwned), that a key policy allows this account, and that no permissions '
    + 'boundary or SCP denies the action.');
}

/** Runs an AWS call and maps its error with {@link mapAwsError}. */
export async function aws<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw mapAwsError(err, context);
  }
}
