import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { AuroraRestorePipelineProps } from './aurora-restore-pipeline';
import { checkShares, PreviousTargetRetention, ReplaceStrategy, WAIT_POLICY, waitLoopsPerExecution } from './contracts';
import { NAME_RULE, objectNameProblem, roleNameProblem } from './db-names';
import { reservedPrefixOf, sourceAccessName } from './names';
import { HandlerPlacement } from './placement';

/** RDS DB cluster identifiers: 1–63 letters, digits or hyphens, starting with a letter, no `--`, no trailing `-`. */
export const CLUSTER_ID = /^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$/;
/** An AWS region name. */
export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The timing props' defaults: a 24-hour copy and a 24-hour restore fit, each loop within its share of the history.
 * The timeout's default depends on the flow: {@link defaultTimeout}.
 */
export const TIMING_DEFAULTS = {
  pollInterval: Duration.seconds(10),
  maxPollInterval: Duration.minutes(5),
  pollBackoffRate: 2,
  waitBudget: Duration.hours(26),
};

/** What the execution's timeout allows beyond its wait loops' budgets: the steps outside the loops. */
export const TIMEOUT_MARGIN_SECONDS = 2 * 3600;

/** Step Functions' limit on a standard execution's duration (one year). */
export const MAX_EXECUTION_SECONDS = 365 * 24 * 3600;

/** The worst case of one execution's history for the timing settings (seconds), and what bounds it. */
export interface HistoryWorstCase {
  /** Checks one wait loop can make within its budget. */
  readonly checksPerLoop: number;
  /** Events of an execution whose every loop uses its whole budget. */
  readonly events: number;
  /** Whether the per-loop limit holds: its checks, at maxPollInterval, cover the budget. */
  readonly bounded: boolean;
}

/**
 * The wait loops one execution of the configured pipeline can go through ({@link waitLoopsPerExecution}); without
 * replaceExistingTarget no swap runs (copy and restore: the fewest, three, are counted).
 */
export function configuredWaitLoops(props: Pick<AuroraRestorePipelineProps, 'replaceExistingTarget' | 'replaceStrategy' | 'previousTargetRetention'>): number {
  if (props.replaceExistingTarget === false) return WAIT_POLICY.loopsPerExecution;
  return waitLoopsPerExecution(props.replaceStrategy ?? ReplaceStrategy.SWAP, props.previousTargetRetention ?? PreviousTargetRetention.DELETE);
}

/** What each count of wait loops ({@link waitLoopsPerExecution}) goes through, for the warnings. */
const LOOP_NAMES: Record<number, string> = {
  3: 'copy, delete, restore',
  4: 'copy, restore, kept previous target\'s delete, cutover',
  5: 'copy, restore, kept previous target\'s delete, cutover, retirement of the previous target',
};

/**
 * The execution timeout when `timeout` is not set: one `waitBudget` for each wait loop of the configured flow
 * ({@link configuredWaitLoops}), and {@link TIMEOUT_MARGIN_SECONDS} for the other steps, so that an execution whose
 * every loop runs to its budget ends in `OperationTimedOut`, not in a bare execution timeout. With the default
 * budget: 132 h for a swap that deletes the previous target, 106 h for one that keeps it, 80 h for DELETE_FIRST (and
 * without replaceExistingTarget). validateProps refuses a budget that would make it longer than a year.
 */
export function defaultTimeout(
  props: Pick<AuroraRestorePipelineProps, 'replaceExistingTarget' | 'replaceStrategy' | 'previousTargetRetention' | 'waitBudget'>,
): Duration {
  const budget = (props.waitBudget ?? TIMING_DEFAULTS.waitBudget).toSeconds();
  return Duration.seconds(configuredWaitLoops(props) * budget + TIMEOUT_MARGIN_SECONDS);
}

/**
 * The most events one execution can write to its history: each of its `loops` wait loops checks at most every
 * pollInterval, and at most its share of checks ({@link checkShares}) when those checks at maxPollInterval can cover
 * its budget (the waits then lengthen as a loop uses them up; lambda-src/lib/waits.ts).
 */
export function historyWorstCase(
  pollSeconds: number, maxPollSeconds: number, budgetSeconds: number, loops: number = WAIT_POLICY.loopsPerExecution,
): HistoryWorstCase {
  const shares = checkShares(loops, budgetSeconds, maxPollSeconds);
  const bounded = shares.checksPerLoop * maxPollSeconds >= budgetSeconds
    && (shares.swapStepLoops === 0 || shares.checksPerSwapStep * maxPollSeconds >= budgetSeconds);
  const atPoll = Math.ceil(budgetSeconds / pollSeconds) + 1;
  const checksPerLoop = bounded ? Math.min(shares.checksPerLoop, atPoll) : atPoll;
  const checksPerSwapStep = bounded ? Math.min(shares.checksPerSwapStep, atPoll) : atPoll;
  const events = WAIT_POLICY.eventsPerCheck * (shares.mainLoops * checksPerLoop + shares.swapStepLoops * checksPerSwapStep)
    + WAIT_POLICY.eventsOutsideLoops;
  return { checksPerLoop, events, bounded };
}

/** The shortest maxPollInterval, and the longest waitBudget, whose worst case is bounded for `loops` (for the warning). */
function boundedLimits(maxPollSeconds: number, budgetSeconds: number, loops: number): { maxPoll: number; budget: number } {
  const bounded = (maxPoll: number, budget: number) => historyWorstCase(maxPoll, maxPoll, budget, loops).bounded;
  let maxPoll = 1;
  while (!bounded(maxPoll, budgetSeconds) && maxPoll < budgetSeconds) maxPoll++;
  let low = 0;
  let high = budgetSeconds;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (bounded(maxPollSeconds, mid)) low = mid; else high = mid - 1;
  }
  return { maxPoll, budget: low };
}

function known(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

function fail(what: string, fix: string): never {
  throw new Error(`AuroraRestorePipeline: ${what}. ${fix}`);
}

/**
 * The identifier as RDS stores it: lower case. RDS identifiers are case-insensitive, IAM compares ARNs
 * case-sensitively, so every ARN and every identifier the handlers get uses this spelling. A mixed-case
 * identifier is accepted with a warning saying so.
 */
export function normaliseIdentifier(scope: IConstruct, prop: string, value: string): string {
  if (!known(value) || value === value.toLowerCase()) return value;
  const lower = value.toLowerCase();
  Annotations.of(scope).addWarningV2(`cdk-aurora-restore-pipeline:${prop}LowerCase`,
    `${prop} '${value}' is used as '${lower}': RDS stores identifiers in lower case and IAM compares ARNs case-sensitively. Write it in lower case to silence this warning.`);
  return lower;
}

const ACCOUNT = /^\d{12}$/;

/** The source account's side of a pipeline restoring from another account, as the handlers and IAM get it. */
export interface SourceAccountSettings {
  /** The source account. */
  readonly account: string;
  /** The AuroraRestoreSource role to assume. */
  readonly roleArn: string;
  /** The share key: a key ARN, or (by default) the alias ARN of the companion's share key. */
  readonly shareKeyArn: string;
}

/**
 * Checks the cross-account props (`sourceAccount`, `sourceRoleArn`, `sourceShareKeyArn`) and returns the source
 * account's side when the pipeline restores from another account, else `undefined`. The role and key default to the
 * names `AuroraRestoreSource` gives them (`sourceAccessName`), computed from this stack's account and region. Values
 * that are tokens are not checked.
 */
export function resolveSourceAccount(
  props: AuroraRestorePipelineProps, pipelineAccount: string, targetRegion: string, partition = 'aws',
): SourceAccountSettings | undefined {
  const { sourceAccount, sourceRoleArn, sourceShareKeyArn } = props;
  if (sourceAccount === undefined) {
    if (sourceRoleArn !== undefined || sourceShareKeyArn !== undefined) {
      fail(`${sourceRoleArn !== undefined ? 'sourceRoleArn' : 'sourceShareKeyArn'} is set without sourceAccount`,
        "Set sourceAccount to the source cluster's account, or leave sourceRoleArn and sourceShareKeyArn out for a source in the pipeline's account.");
    }
    return undefined;
  }
  if (known(sourceAccount) && !ACCOUNT.test(sourceAccount)) {
    fail(`sourceAccount '${sourceAccount}' is not a 12-digit AWS account id`, "Give the account id of the source cluster, or leave sourceAccount out for the pipeline's own account.");
  }
  if (known(sourceAccount) && known(pipelineAccount) && sourceAccount === pipelineAccount) {
    if (sourceRoleArn !== undefined || sourceShareKeyArn !== undefined) {
      fail(`sourceAccount '${sourceAccount}' is the pipeline's own account, yet ${sourceRoleArn !== undefined ? 'sourceRoleArn' : 'sourceShareKeyArn'} is set`,
        'Leave sourceRoleArn and sourceShareKeyArn out: the pipeline reads snapshots of its own account directly (or leave sourceAccount out too).');
    }
    return undefined;
  }
  // The companion names its role and key alias after this pipeline's account and region: both must be known to compute them.
  const computable = known(pipelineAccount) && known(targetRegion) && known(props.sourceClusterIdentifier);
  if ((sourceRoleArn === undefined || sourceShareKeyArn === undefined) && !computable) {
    fail(`sourceAccount '${sourceAccount}' is set and ${sourceRoleArn === undefined ? 'sourceRoleArn' : 'sourceShareKeyArn'} is not, and the stack's account or region `
      + 'is not known at synth time, so the names AuroraRestoreSource gives its role and share key cannot be computed',
    'Give sourceRoleArn and sourceShareKeyArn (the roleArn and shareKeyArn of the AuroraRestoreSource in the source account), or deploy this stack with an explicit account and region.');
  }
  const name = computable ? sourceAccessName(props.sourceClusterIdentifier, pipelineAccount, targetRegion) : '';
  const roleArn = sourceRoleArn ?? `arn:${partition}:iam::${sourceAccount}:role/${name}`;
  const shareKeyArn = sourceShareKeyArn ?? `arn:${partition}:kms:${targetRegion}:${sourceAccount}:alias/${name}`;
  if (sourceRoleArn !== undefined && known(sourceRoleArn) && known(sourceAccount) && !new RegExp(`^arn:aws[a-z-]*:iam::${sourceAccount}:role/.+$`).test(sourceRoleArn)) {
    fail(`sourceRoleArn '${sourceRoleArn}' is not a role of the source account ${sourceAccount}`, `Give the roleArn of the AuroraRestoreSource deployed in account ${sourceAccount}.`);
  }
  if (sourceShareKeyArn !== undefined && known(sourceShareKeyArn)) {
    const m = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/.+$/.exec(sourceShareKeyArn);
    if (!m) fail(`sourceShareKeyArn '${sourceShareKeyArn}' is not a KMS key or alias ARN`, `Give the shareKeyArn of the AuroraRestoreSource deployed in account ${sourceAccount}.`);
    if (known(sourceAccount) && m[2] !== sourceAccount) {
      fail(`sourceShareKeyArn '${sourceShareKeyArn}' is a key of account ${m[2]}, not of the source account ${sourceAccount}`,
        `Give the shareKeyArn of the AuroraRestoreSource deployed in account ${sourceAccount}.`);
    }
    if (known(targetRegion) && m[1] !== targetRegion) {
      fail(`sourceShareKeyArn '${sourceShareKeyArn}' is in ${m[1]}, not in the pipeline's region ${targetRegion} (a shared cluster snapshot can be restored only in its own region, where its copy is made)`,
        `Deploy AuroraRestoreSource in account ${sourceAccount} in ${targetRegion}, and give its shareKeyArn.`);
    }
  }
  if (props.retainSnapshotCopy === true) {
    fail('retainSnapshotCopy is true with a source in another account: the shareable copy lives in the source account and is always removed',
      'Leave retainSnapshotCopy out; the restored cluster (and its final snapshots) stay in this account.');
  }
  if (props.sourceSnapshotKey !== undefined) {
    fail('sourceSnapshotKey is set with a source in another account: the source account\'s role (AuroraRestoreSource) uses the source snapshot\'s key, not the pipeline',
      'Leave sourceSnapshotKey out here, and give it to AuroraRestoreSource (its sourceSnapshotKey) instead.');
  }
  return { account: sourceAccount, roleArn, shareKeyArn };
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
    const reserved = known(value) ? reservedPrefixOf(value) : undefined;
    if (reserved) {
      fail(`${name} '${value}' starts with '${reserved}', a prefix the pipeline reserves for the snapshots and clusters it makes (its IAM permissions cover names with that prefix)`,
        `Choose an identifier that does not start with '${reserved}'.`);
    }
  }
  if (known(props.sourceRegion) && !REGION.test(props.sourceRegion)) {
    fail(`sourceRegion '${props.sourceRegion}' is not an AWS region name`, "Use a region such as 'us-east-1', or leave it out to use the stack's region.");
  }
  resolveSourceAccount(props, Stack.of(scope).account, targetRegion);
  const sourceRegion = props.sourceRegion ?? targetRegion;
  // Also across accounts: the handlers' own guard refuses a target named as the source in its region, whatever the account.
  const sameRegion = sourceRegion === targetRegion;
  if (known(props.sourceClusterIdentifier) && known(props.targetClusterIdentifier)
    && props.sourceClusterIdentifier.toLowerCase() === props.targetClusterIdentifier.toLowerCase() && sameRegion) {
    fail(`the target cluster '${props.targetClusterIdentifier}' is the source cluster in the same region`,
      'The pipeline would replace the cluster it restores from. Choose a different targetClusterIdentifier, or a different sourceRegion.');
  }

  // With assumeTargetOwned the pipeline may tag the adopted target's instances, named after the cluster
  // (`<target>-instance-1`, `<target>instance1`): that pattern must not cover the source's instances.
  if (props.assumeTargetOwned && sameRegion && known(props.sourceClusterIdentifier) && known(props.targetClusterIdentifier)
    && props.sourceClusterIdentifier.toLowerCase().startsWith(props.targetClusterIdentifier.toLowerCase())) {
    fail(`with assumeTargetOwned, the target '${props.targetClusterIdentifier}' is a prefix of the source '${props.sourceClusterIdentifier}' in the same region: `
      + 'the pipeline may tag the instances named after the target before deleting them, and that name pattern covers the source\'s instances',
    'Choose a target identifier that does not start the source\'s, or turn off assumeTargetOwned and tag the target cluster and its instances yourself.');
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

  if (props.finalSnapshotsToKeep !== undefined && (!Number.isInteger(props.finalSnapshotsToKeep) || props.finalSnapshotsToKeep < 1)) {
    fail(`finalSnapshotsToKeep is ${props.finalSnapshotsToKeep}`, 'Use a whole number of 1 or more: the final snapshot just taken is always kept (default 5).');
  }
  const reserved = props.handlerReservedConcurrency;
  if (reserved !== undefined && !Token.isUnresolved(reserved) && (!Number.isInteger(reserved) || reserved < 1)) {
    fail(`handlerReservedConcurrency is ${reserved}, and each function needs a positive whole number (0 would throttle every invocation)`,
      'Use a whole number of 1 or more (1 is enough: one execution invokes one function at a time), or leave it out to reserve none.');
  }

  const poll = (props.pollInterval ?? TIMING_DEFAULTS.pollInterval).toSeconds();
  const maxPoll = (props.maxPollInterval ?? TIMING_DEFAULTS.maxPollInterval).toSeconds();
  const budget = (props.waitBudget ?? TIMING_DEFAULTS.waitBudget).toSeconds();
  const loops = configuredWaitLoops(props);
  const timeout = (props.timeout ?? defaultTimeout(props)).toSeconds();
  if (poll < 1) fail(`pollInterval is ${poll}s`, 'Use at least 1 second.');
  if (maxPoll < poll) fail(`maxPollInterval (${maxPoll}s) is shorter than pollInterval (${poll}s)`, 'Make maxPollInterval at least pollInterval.');
  if (props.pollBackoffRate !== undefined && (props.pollBackoffRate < 1 || props.pollBackoffRate > 10)) {
    fail(`pollBackoffRate ${props.pollBackoffRate} is out of range`, 'Use a rate from 1 (constant interval) to 10.');
  }
  if (props.timeout === undefined && timeout > MAX_EXECUTION_SECONDS) {
    fail(`waitBudget (${budget}s) makes the default timeout ${timeout}s (one budget for each of the ${loops} wait loops, ${LOOP_NAMES[loops]}, `
      + 'and two hours), over Step Functions\' one-year limit',
    `Shorten waitBudget to at most ${Math.floor((MAX_EXECUTION_SECONDS - TIMEOUT_MARGIN_SECONDS) / loops)}s, or set timeout to at most ${MAX_EXECUTION_SECONDS}s.`);
  }
  if (budget > timeout) {
    fail(`waitBudget (${budget}s) is longer than the pipeline's timeout (${timeout}s)`, 'Shorten waitBudget or lengthen timeout.');
  }
  if (timeout > MAX_EXECUTION_SECONDS) fail(`timeout (${timeout}s) exceeds Step Functions' one-year limit`, `Use a timeout of at most ${MAX_EXECUTION_SECONDS}s.`);

  const names = new Set<string>();
  for (const user of props.databaseUsers ?? []) {
    if (!known(user.username)) continue;
    const problem = roleNameProblem(user.username);
    if (problem) fail(`database user '${user.username}' ${problem}`, `Use ${NAME_RULE}, not starting with pg_ or rds and not a reserved name such as postgres or public.`);
    if (names.has(user.username)) fail(`database user '${user.username}' is listed twice`, 'List each role once.');
    names.add(user.username);
    const limit = user.connectionLimit;
    if (limit !== undefined && !Token.isUnresolved(limit) && (!Number.isInteger(limit) || limit < 1)) {
      fail(`connectionLimit ${user.connectionLimit} of database user '${user.username}' is not a positive integer`, 'Use a whole number of connections of at least 1, or leave it out for no limit.');
    }
    for (const [kind, objs] of [['database', user.databases ?? []], ['schema', user.schemas ?? []]] as const) {
      for (const obj of objs) {
        const objProblem = known(obj) ? objectNameProblem(kind, obj) : undefined;
        if (objProblem) fail(`${kind} name '${obj}' of user '${user.username}' ${objProblem}`, `Use ${NAME_RULE}, naming one of your own ${kind}s.`);
      }
    }
  }
  for (const db of props.databaseNames ?? []) {
    const dbProblem = known(db) ? objectNameProblem('database', db) : undefined;
    if (dbProblem) fail(`database name '${db}' ${dbProblem}`, `Use ${NAME_RULE}, naming one of your own databases.`);
  }
  if (props.databaseNames !== undefined && props.databaseNames.length === 0) {
    fail('databaseNames is empty', 'List at least one database, or leave it out to use [\'postgres\'].');
  }
  validateValidationQueries(scope, props);

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
  if (props.handlerPlacement === HandlerPlacement.ALL_IN_VPC && props.sourceRegion !== undefined && !sameRegion) {
    warn('allInVpcCrossRegion', `handlerPlacement is ALL_IN_VPC and the source region (${props.sourceRegion}) ${Token.isUnresolved(targetRegion) ? 'may differ from' : 'differs from'} the stack's region: `
      + `SnapshotCheck and CopySnapshot call RDS in ${props.sourceRegion}, which VPC interface endpoints cannot reach (they serve their own region only). `
      + 'Give the functions\' subnets (vpcSubnets) a NAT path, or use HandlerPlacement.DATABASE_ONLY, or every cross-region restore times out.');
  }
  const worst = historyWorstCase(poll, maxPoll, budget, loops);
  if (worst.events > WAIT_POLICY.historyEventLimit) {
    const limits = boundedLimits(maxPoll, budget, loops);
    warn('historyEvents', `With pollInterval ${poll}s, maxPollInterval ${maxPoll}s and waitBudget ${budget}s, an execution whose ${loops} wait loops `
      + `(${LOOP_NAMES[loops]}) each run to the budget can write ${worst.events} history events, over Step Functions' limit of ${WAIT_POLICY.historyEventLimit}: `
      + 'such an execution fails with a bare history-limit error instead of OperationTimedOut. '
      + `Raise maxPollInterval to at least ${limits.maxPoll}s or shorten waitBudget to at most ${limits.budget}s.`);
  }
  const needed = loops * budget;
  if (timeout < needed) {
    warn('timeoutBelowBudgets', `timeout (${timeout}s) is shorter than ${loops} waitBudgets (${needed}s, one for each of the ${loops} wait loops: ${LOOP_NAMES[loops]}): `
      + 'slow operations can end in a bare execution timeout instead of OperationTimedOut naming the operation. '
      + `Set timeout to at least ${needed + TIMEOUT_MARGIN_SECONDS}s (the budgets and two hours for the other steps), leave it out to get that, or shorten waitBudget.`);
  }
  if (!replace) {
    warn('noReplace', 'replaceExistingTarget is off: a restore fails with TargetAlreadyExists while the target cluster exists.');
  }
}

/** Validation query names: they appear in messages and in the run's summary. */
const QUERY_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
/** Bounds that keep the queries, which are task input, well inside the state machine's and the payloads' limits. */
export const MAX_VALIDATION_SQL_CHARS = 8192;
export const MAX_VALIDATION_QUERIES = 50;
/** The validation function runs for at most 300 s: one query may take at most this much of it. */
export const MAX_VALIDATION_TIMEOUT_SECONDS = 240;

function validateValidationQueries(scope: IConstruct, props: AuroraRestorePipelineProps): void {
  const timeout = props.validationStatementTimeout?.toSeconds({ integral: false }) ?? 30;
  if (timeout < 1 || timeout > MAX_VALIDATION_TIMEOUT_SECONDS) {
    fail(`validationStatementTimeout is ${timeout}s`, `Use 1 second to ${MAX_VALIDATION_TIMEOUT_SECONDS / 60} minutes (default 30 seconds).`);
  }
  const queries = props.validationQueries ?? [];
  if (queries.length > MAX_VALIDATION_QUERIES) {
    fail(`validationQueries lists ${queries.length} queries`, `Use at most ${MAX_VALIDATION_QUERIES}; combine checks into one query (SELECT a AND b AND c).`);
  }
  const databaseNames = props.databaseNames ?? ['postgres'];
  const configured = new Set([...databaseNames, ...(props.databaseUsers ?? []).flatMap((u) => u.databases ?? [])]);
  const names = new Set<string>();
  for (const [i, query] of queries.entries()) {
    const name = query.name;
    if (known(name)) {
      if (!QUERY_NAME.test(name)) {
        fail(`validation query #${i + 1} is named '${name}'`, 'Name it with 1 to 64 letters, digits, spaces, _, . or -, starting with a letter or digit.');
      }
      if (names.has(name)) fail(`validation query '${name}' is listed twice`, 'Give each validation query its own name.');
      names.add(name);
    }
    if (known(query.sql)) {
      if (query.sql.trim() === '') fail(`validation query '${name}' has no SQL`, 'Give it one SQL statement returning a row whose first column is true or a number > 0.');
      if (query.sql.length > MAX_VALIDATION_SQL_CHARS) {
        fail(`validation query '${name}' has ${query.sql.length} characters of SQL`, `Keep it to ${MAX_VALIDATION_SQL_CHARS}: put a long check into a view or function in the source database and select from that.`);
      }
    }
    if (known(query.database) && !configured.has(query.database) && [...configured].every(known)) {
      fail(`validation query '${name}' runs in database '${query.database}', which is not configured`,
        `Use one of ${[...configured].map((d) => `'${d}'`).join(', ')}, or add '${query.database}' to databaseNames (every configured database must exist in the restored cluster).`);
    }
  }
  if (queries.length * timeout > MAX_VALIDATION_TIMEOUT_SECONDS) {
    Annotations.of(scope).addWarningV2('cdk-aurora-restore-pipeline:validationMayTimeOut',
      `${queries.length} validation queries of up to ${timeout}s each may together exceed the validation function's 300 s limit, and the run then fails with StepTimedOut. `
      + 'Lower validationStatementTimeout or combine queries.');
  }
}
