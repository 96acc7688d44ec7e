import { Annotations, Duration, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { AuroraRestorePipelineProps } from './aurora-restore-pipeline';

/** RDS DB cluster identifiers: 1–63 letters, digits or hyphens, starting with a letter, no `--`, no trailing `-`. */
const CLUSTER_ID = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;
/** Role names: the same rule the setup-db-users handler applies at run time. */
const ROLE_NAME = /^[a-z_][a-z0-9_]*$/;
const DB_OBJECT_NAME = /^[a-z_][a-z0-9_]*$/;
const RESERVED_ROLE_PREFIXES = ['pg_', 'rds'];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function known(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

function fail(what: string, fix: string): never {
  throw new Error(`AuroraRestorePipeline: ${what}. ${fix}`);
}

/**
 * Throws on impossible prop combinations, saying what to fix, and warns (acknowledgeable annotations)
 * on legal but risky ones.
 */
export function validateProps(scope: IConstruct, props: AuroraRestorePipelineProps, targetRegion: string): void {
  for (const [name, value] of [['sourceClusterIdentifier', props.sourceClusterIdentifier], ['targetClusterIdentifier', props.targetClusterIdentifier]] as const) {
    if (known(value) && (!CLUSTER_ID.test(value) || value.endsWith('-'))) {
      fail(`${name} '${value}' is not a valid RDS cluster identifier`,
        'Use 1 to 63 letters, digits or hyphens, starting with a letter, without two consecutive hyphens or a trailing hyphen.');
    }
  }
  if (known(props.sourceRegion) && !REGION.test(props.sourceRegion)) {
    fail(`sourceRegion '${props.sourceRegion}' is not an AWS region name`, "Use a region such as 'us-east-1', or leave it out to use the stack's region.");
  }
  const sourceRegion = props.sourceRegion ?? targetRegion;
  const sameRegion = sourceRegion === targetRegion;
  if (known(props.sourceClusterIdentifier) && known(props.targetClusterIdentifier)
    && props.sourceClusterIdentifier.toLowerCase() === props.targetClusterIdentifier.toLowerCase() && sameRegion) {
    fail(`the target cluster '${props.targetClusterIdentifier}' is the source cluster in the same region`,
      'The pipeline would replace the cluster it restores from. Choose a different targetClusterIdentifier, or a different sourceRegion.');
  }

  const min = props.serverlessV2MinCapacity ?? 0.5;
  const max = props.serverlessV2MaxCapacity ?? 4;
  if (min < 0 || max > 256 || min > max || (min * 2) % 1 !== 0 || (max * 2) % 1 !== 0 || max < 1) {
    fail(`the Serverless v2 capacity ${min}–${max} ACU is not valid`,
      'Use multiples of 0.5 with 0 <= serverlessV2MinCapacity <= serverlessV2MaxCapacity, 1 <= serverlessV2MaxCapacity <= 256.');
  }
  if (props.port !== undefined && (!Number.isInteger(props.port) || props.port < 1150 || props.port > 65535)) {
    fail(`port ${props.port} is not allowed for Aurora`, 'Use an integer from 1150 to 65535 (default 5432).');
  }

  const poll = (props.pollInterval ?? Duration.seconds(30)).toSeconds();
  const maxPoll = (props.maxPollInterval ?? Duration.minutes(5)).toSeconds();
  const budget = (props.waitBudget ?? Duration.hours(12)).toSeconds();
  const timeout = (props.timeout ?? Duration.hours(24)).toSeconds();
  if (poll < 1) fail(`pollInterval is ${poll}s`, 'Use at least 1 second.');
  if (maxPoll < poll) fail(`maxPollInterval (${maxPoll}s) is shorter than pollInterval (${poll}s)`, 'Make maxPollInterval at least pollInterval.');
  if (props.pollBackoffRate !== undefined && (props.pollBackoffRate < 1 || props.pollBackoffRate > 10)) {
    fail(`pollBackoffRate ${props.pollBackoffRate} is out of range`, 'Use a rate from 1 (constant interval) to 10.');
  }
  if (budget > timeout) {
    fail(`waitBudget (${budget}s) is longer than the pipeline's timeout (${timeout}s)`, 'Shorten waitBudget or lengthen timeout.');
  }
  if (timeout > 365 * 24 * 3600) fail(`timeout (${timeout}s) exceeds Step Functions' one-year limit`, 'Use a shorter timeout.');

  const names = new Set<string>();
  for (const user of props.databaseUsers ?? []) {
    if (!known(user.username)) continue;
    const problem = roleNameProblem(user.username);
    if (problem) fail(`database user '${user.username}' ${problem}`, 'Use lower-case letters, digits and _, starting with a letter or _, at most 63 bytes, not starting with pg_ or rds.');
    if (names.has(user.username)) fail(`database user '${user.username}' is listed twice`, 'List each role once.');
    names.add(user.username);
    for (const obj of [...(user.databases ?? []), ...(user.schemas ?? [])]) {
      if (known(obj) && (!DB_OBJECT_NAME.test(obj) || Buffer.byteLength(obj) > 63)) {
        fail(`database or schema name '${obj}' of user '${user.username}' is not allowed`, 'Use lower-case letters, digits and _, starting with a letter or _, at most 63 bytes.');
      }
    }
  }
  for (const db of props.databaseNames ?? []) {
    if (known(db) && (!DB_OBJECT_NAME.test(db) || Buffer.byteLength(db) > 63)) {
      fail(`database name '${db}' is not allowed`, 'Use lower-case letters, digits and _, starting with a letter or _, at most 63 bytes.');
    }
  }
  if (props.databaseNames !== undefined && props.databaseNames.length === 0) {
    fail('databaseNames is empty', 'List at least one database, or leave it out to use [\'postgres\'].');
  }
  for (const email of props.notificationEmails ?? []) {
    if (known(email) && !EMAIL.test(email)) fail(`notification e-mail '${email}' is not an e-mail address`, 'Fix or remove it.');
  }

  const replace = props.replaceExistingTarget ?? true;
  const warn = (id: string, message: string) => Annotations.of(scope).addWarningV2(`cdk-aurora-restore-pipeline:${id}`, message);
  if (replace && props.finalSnapshotOnReplace === false) {
    warn('noFinalSnapshot', 'The existing target cluster is replaced without a final snapshot: whatever changed in it since the last restore is lost. Set finalSnapshotOnReplace: true to keep one.');
  }
  if (props.assumeTargetOwned) {
    warn('assumeTargetOwned', `assumeTargetOwned is set: the pipeline will delete an existing '${props.targetClusterIdentifier}' even if it did not create it. Make sure nothing else lives under that identifier.`);
  }
  if (replace && props.deletionProtection && !props.allowDisableDeletionProtection) {
    warn('deletionProtectionBlocksReplace', 'deletionProtection is on and allowDisableDeletionProtection is off: the next restore over this target will fail with DeletionProtected. Set allowDisableDeletionProtection: true, or turn off replaceExistingTarget.');
  }
  if (!replace) {
    warn('noReplace', 'replaceExistingTarget is off: a restore fails with TargetAlreadyExists while the target cluster exists.');
  }
}

/** Why a role name is not allowed, or undefined when it is. Mirrors the handler's run-time check. */
export function roleNameProblem(name: string): string | undefined {
  if (Buffer.byteLength(name) > 63) return 'is longer than 63 bytes';
  if (!ROLE_NAME.test(name)) return 'has characters other than lower-case letters, digits and _ (or starts with a digit)';
  if (RESERVED_ROLE_PREFIXES.some((p) => name.startsWith(p))) return 'starts with a reserved prefix (pg_ or rds)';
  if (['postgres', 'public', 'none', 'current_user', 'session_user', 'current_role'].includes(name)) return 'is a reserved role name';
  return undefined;
}
