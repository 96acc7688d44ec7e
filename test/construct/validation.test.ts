import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { definitionOf, renderIntrinsics } from './definition';
import { ENV, importedVpc } from './stacks';
import { AuroraRestorePipeline, AuroraRestorePipelineProps } from '../../src';
import { MAX_CHECKS_PER_LOOP, PIPELINE_CONFIG_ENV, PreviousTargetRetention, ReplaceStrategy } from '../../src/contracts';
import { sourceAccessName } from '../../src/names';
import { configuredWaitLoops, defaultTimeout, historyWorstCase, TIMING_DEFAULTS } from '../../src/validation';

function build(props: Partial<AuroraRestorePipelineProps>) {
  const stack = new Stack(new App(), 'S', { env: ENV });
  new AuroraRestorePipeline(stack, 'Restore', {
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'staging-aurora',
    vpc: importedVpc(stack),
    ...props,
  });
  return stack;
}

describe('impossible combinations throw, saying what to fix', () => {
  test.each<[string, Partial<AuroraRestorePipelineProps>, RegExp]>([
    ['source is target in the same region', { targetClusterIdentifier: 'prod-aurora' }, /is the source cluster in the same region.*Choose a different targetClusterIdentifier/],
    ['source is target, other case', { targetClusterIdentifier: 'PROD-aurora' }, /is the source cluster/],
    ['invalid target identifier', { targetClusterIdentifier: '1staging' }, /targetClusterIdentifier '1staging' is not a valid RDS cluster identifier.*starting with a letter/],
    ['double hyphen', { targetClusterIdentifier: 'stag--ing' }, /not a valid RDS cluster identifier/],
    ['trailing hyphen', { sourceClusterIdentifier: 'prod-' }, /sourceClusterIdentifier 'prod-'/],
    ['too long', { targetClusterIdentifier: 'a'.repeat(64) }, /not a valid RDS cluster identifier/],
    ['bad region', { sourceRegion: 'mars-1' }, /sourceRegion 'mars-1' is not an AWS region name/],
    ['bad capacity', { serverlessV2MinCapacity: 8, serverlessV2MaxCapacity: 4 }, /Serverless v2 capacity 8–4 ACU is not valid/],
    ['bad port', { port: 80 }, /port 80 is not allowed/],
    ['budget over timeout', { waitBudget: Duration.hours(90), timeout: Duration.hours(80) }, /waitBudget \(324000s\) is longer than the pipeline's timeout \(288000s\)/],
    ['timeout over a year', { timeout: Duration.days(366) }, /timeout \(31622400s\) exceeds Step Functions' one-year limit.*at most 31536000s/],
    ['a budget whose default timeout passes a year', { waitBudget: Duration.hours(1800) },
      /waitBudget \(6480000s\) makes the default timeout 32407200s \(one budget for each of the 5 wait loops, copy, restore, kept previous target's delete, cutover, retirement of the previous target, and two hours\), over Step Functions' one-year limit\. Shorten waitBudget to at most 6305760s, or set timeout/],
    ['max poll under poll', { pollInterval: Duration.minutes(10), maxPollInterval: Duration.minutes(1) }, /maxPollInterval .* is shorter than pollInterval/],
    ['hostile role name', { databaseUsers: [{ username: 'x"; DROP ROLE postgres; --' }] }, /database user .* contains characters other than/],
    ['reserved prefix', { databaseUsers: [{ username: 'pg_monitor2' }] }, /reserved prefix/],
    ['rds prefix', { databaseUsers: [{ username: 'rdsadmin2' }] }, /reserved prefix/],
    ['duplicate user', { databaseUsers: [{ username: 'app' }, { username: 'app' }] }, /listed twice/],
    ['zero connection limit', { databaseUsers: [{ username: 'app', connectionLimit: 0 }] }, /connectionLimit 0 of database user 'app' is not a positive integer/],
    ['fractional connection limit', { databaseUsers: [{ username: 'app', connectionLimit: 1.5 }] }, /connectionLimit 1.5 .* not a positive integer/],
    ['bad schema', { databaseUsers: [{ username: 'app', schemas: ['Public;'] }] }, /schema name 'Public;'/],
    ['system schema', { databaseUsers: [{ username: 'app', schemas: ['pg_catalog'] }] }, /schema name 'pg_catalog' of user 'app' is a system schema/],
    ['template database', { databaseNames: ['template1'] }, /database name 'template1' is a template or RDS system database/],
    ['reserved role', { databaseUsers: [{ username: 'public' }] }, /is a reserved role name/],
    ['empty databases', { databaseNames: [] }, /databaseNames is empty/],
    ['bad email', { notificationEmails: ['not-an-email'] }, /not an e-mail address/],
    ['no final snapshot kept', { finalSnapshotsToKeep: 0 }, /finalSnapshotsToKeep is 0.*the final snapshot just taken is always kept/],
    ['zero reserved concurrency', { handlerReservedConcurrency: 0 }, /handlerReservedConcurrency is 0, and each function needs a positive whole number.*leave it out to reserve none/],
    ['fractional reserved concurrency', { handlerReservedConcurrency: 1.5 }, /handlerReservedConcurrency is 1.5/],
    ['negative reserved concurrency', { handlerReservedConcurrency: -2 }, /handlerReservedConcurrency is -2/],
    ['fractional final snapshots', { finalSnapshotsToKeep: 2.5 }, /finalSnapshotsToKeep is 2.5/],
    ['source under the copy prefix', { sourceClusterIdentifier: 'arp-copy-prod' }, /sourceClusterIdentifier 'arp-copy-prod' starts with 'arp-copy-', a prefix the pipeline reserves.*does not start with 'arp-copy-'/],
    ['target under the final snapshot prefix', { targetClusterIdentifier: 'ARP-Final-x' }, /targetClusterIdentifier 'ARP-Final-x' starts with 'arp-final-'/],
    ['target under the temporary cluster prefix', { targetClusterIdentifier: 'arp-tmp-staging' }, /starts with 'arp-tmp-'/],
    ['source under the shareable copy prefix', { sourceClusterIdentifier: 'arp-share-prod' }, /starts with 'arp-share-'/],
    ['adopting a target that prefixes the source', { targetClusterIdentifier: 'prod', assumeTargetOwned: true }, /with assumeTargetOwned, the target 'prod' is a prefix of the source 'prod-aurora'.*turn off assumeTargetOwned/],
    ['validation query in an unconfigured database', { validationQueries: [{ name: 'orders', database: 'app', sql: 'SELECT true' }] },
      /validation query 'orders' runs in database 'app', which is not configured.*Use one of 'postgres', or add 'app' to databaseNames/],
    ['validation query without SQL', { validationQueries: [{ name: 'orders', sql: '  ' }] }, /validation query 'orders' has no SQL/],
    ['validation query with too much SQL', { validationQueries: [{ name: 'big', sql: `SELECT ${'1+'.repeat(4100)}1` }] }, /validation query 'big' has 8208 characters of SQL.*Keep it to 8192/],
    ['validation queries with one name', { validationQueries: [{ name: 'a', sql: 'SELECT 1' }, { name: 'a', sql: 'SELECT 2' }] }, /validation query 'a' is listed twice/],
    ['validation query with a bad name', { validationQueries: [{ name: 'built-in:master-login', sql: 'SELECT 1' }] }, /validation query #1 is named 'built-in:master-login'.*letters, digits, spaces/],
    ['too many validation queries', { validationQueries: Array.from({ length: 51 }, (_, i) => ({ name: `q${i}`, sql: 'SELECT 1' })) }, /validationQueries lists 51 queries.*at most 50/],
    ['validation timeout under a second', { validationStatementTimeout: Duration.millis(500) }, /validationStatementTimeout is 0.5s/],
    ['validation timeout over 4 minutes', { validationStatementTimeout: Duration.minutes(5) }, /validationStatementTimeout is 300s.*1 second to 4 minutes/],
  ])('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('a validation query may use databaseNames, a user\'s database, or by default the first of databaseNames', () => {
    expect(() => build({
      databaseNames: ['app'],
      databaseUsers: [{ username: 'etl', databases: ['warehouse'] }],
      validationQueries: [{ name: 'a', sql: 'SELECT 1' }, { name: 'b b.c-d_e', database: 'warehouse', sql: 'SELECT 1' }, { name: 'c', database: 'app', sql: 'SELECT 1' }],
    })).not.toThrow();
  });

  test('a target that prefixes the source is fine without assumeTargetOwned, or in another region', () => {
    expect(() => build({ targetClusterIdentifier: 'prod' })).not.toThrow();
    expect(() => build({ targetClusterIdentifier: 'prod', assumeTargetOwned: true, sourceRegion: 'us-east-1' })).not.toThrow();
  });

  test('a same identifier in another region is allowed (cross-region DR copy)', () => {
    expect(() => build({ targetClusterIdentifier: 'prod-aurora', sourceRegion: 'us-east-1' })).not.toThrow();
  });
});

describe('risky combinations warn', () => {
  const warned = (stack: Stack, text: RegExp) => Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp(text.source));

  test('no warning on defaults', () => {
    expect(Annotations.fromStack(build({})).findWarning('*', Match.anyValue())).toEqual([]);
  });
  test('timing: the defaults fit a 24 h copy and a 24 h restore, and the history of an execution whose loops all run to the budget', () => {
    const worst = historyWorstCase(30, 300, 26 * 3600);
    expect(worst).toEqual({ checksPerLoop: MAX_CHECKS_PER_LOOP, events: expect.any(Number), bounded: true });
    expect(worst.events).toBeLessThanOrEqual(25_000);
    expect(TIMING_DEFAULTS.waitBudget.toHours()).toBeGreaterThan(24);
    expect(defaultTimeout({}).toSeconds()).toBe(5 * TIMING_DEFAULTS.waitBudget.toSeconds() + 2 * 3600);
    // A short budget is bounded by its checks at pollInterval.
    expect(historyWorstCase(30, 300, 3600).checksPerLoop).toBe(121);
  });
  test('timing: a history that can pass 25,000 events, and a timeout below the flow\'s budgets', () => {
    // A fixed 60 s poll cannot cover 26 h in its share of the history.
    expect(historyWorstCase(60, 60, 26 * 3600)).toMatchObject({ bounded: false, checksPerLoop: 1561, events: 42_447 });
    const fixed = build({ pollInterval: Duration.seconds(60), maxPollInterval: Duration.seconds(60) });
    // The default flow is a swap: five loops.
    expect(warned(fixed, /can write 70545 history events, over Step Functions' limit of 25000.*Raise maxPollInterval to at least 183s or shorten waitBudget to at most 30720s/)).toHaveLength(1);
    const fixedDeleteFirst = build({
      pollInterval: Duration.seconds(60), maxPollInterval: Duration.seconds(60), replaceStrategy: ReplaceStrategy.DELETE_FIRST,
    });
    expect(warned(fixedDeleteFirst, /whose 3 wait loops \(copy, delete, restore\).*can write 42447 history events.*Raise maxPollInterval to at least 103s or shorten waitBudget to at most 54840s/)).toHaveLength(1);
    const deleteFirst10h = { waitBudget: Duration.hours(10), replaceStrategy: ReplaceStrategy.DELETE_FIRST };
    const short = build({ ...deleteFirst10h, timeout: Duration.hours(20) });
    expect(warned(short, /timeout \(72000s\) is shorter than 3 waitBudgets \(108000s, one for each of the 3 wait loops: copy, delete, restore\).*bare execution timeout.*at least 115200s/)).toHaveLength(1);
    expect(Annotations.fromStack(build({ ...deleteFirst10h, timeout: Duration.hours(32) })).findWarning('*', Match.anyValue())).toEqual([]);
  });
  test('timing: the history check counts the wait loops of the configured flow (a swap has five)', () => {
    expect(configuredWaitLoops({})).toBe(5);
    expect(configuredWaitLoops({ previousTargetRetention: PreviousTargetRetention.KEEP })).toBe(4);
    expect(configuredWaitLoops({ replaceStrategy: ReplaceStrategy.DELETE_FIRST })).toBe(3);
    expect(configuredWaitLoops({ replaceExistingTarget: false })).toBe(3);
    // The defaults fit a swap too: the copy and the restore 812 checks each, the swap's three own loops 373 each.
    expect(historyWorstCase(20, 300, 26 * 3600, 5)).toEqual({ checksPerLoop: 812, events: 24_987, bounded: true });
    expect(historyWorstCase(20, 300, 26 * 3600, 4)).toEqual({ checksPerLoop: 999, events: 24_996, bounded: true });
    // A 2-minute maxPollInterval fits three loops (914 checks × 120 s ≥ 26 h) but not a swap's five: its own loops
    // need 841 checks each (26 h at 120 s, and 60), which leaves 110 for the copy and the restore.
    expect(historyWorstCase(20, 120, 26 * 3600, 3).bounded).toBe(true);
    expect(historyWorstCase(20, 120, 26 * 3600, 5)).toMatchObject({ bounded: false, checksPerLoop: 4681 });
    const swap = build({ maxPollInterval: Duration.minutes(2) });
    expect(warned(swap, /whose 5 wait loops \(copy, restore, kept previous target's delete, cutover, retirement of the previous target\).*Raise maxPollInterval to at least 183s or shorten waitBudget to at most 61440s/)).toHaveLength(1);
    const deleteFirst = build({ maxPollInterval: Duration.minutes(2), replaceStrategy: ReplaceStrategy.DELETE_FIRST });
    expect(Annotations.fromStack(deleteFirst).findWarning('*', Match.anyValue())).toEqual([]);
    // The handlers' waits keep each loop within the same count (the config every function gets).
    const configs = (stack: Stack) => JSON.stringify(Template.fromStack(stack).toJSON());
    expect(configs(swap)).toContain('\\"maxChecksPerLoop\\":110,\\"maxChecksPerSwapStep\\":841');
    expect(configs(deleteFirst)).toContain(`\\"maxChecksPerLoop\\":${MAX_CHECKS_PER_LOOP}`);
  });
  test('timing: the timeout is checked against one budget per wait loop of the configured flow', () => {
    // 80 h was the default for every flow: it covers DELETE_FIRST's three loops, not a swap's five or four.
    const swap = build({ timeout: Duration.hours(80) });
    expect(warned(swap, /timeout/).map((w) => w.entry.data)).toEqual([
      'timeout (288000s) is shorter than 5 waitBudgets (468000s, one for each of the 5 wait loops: copy, restore, kept previous target\'s delete, '
      + 'cutover, retirement of the previous target): slow operations can end in a bare execution timeout instead of OperationTimedOut naming the operation. '
      + 'Set timeout to at least 475200s (the budgets and two hours for the other steps), leave it out to get that, or shorten waitBudget. '
      + '[ack: cdk-aurora-restore-pipeline:timeoutBelowBudgets]',
    ]);
    const keep = build({ timeout: Duration.hours(80), previousTargetRetention: PreviousTargetRetention.KEEP });
    expect(warned(keep, /is shorter than 4 waitBudgets \(374400s, one for each of the 4 wait loops: copy, restore, kept previous target's delete, cutover\).*at least 381600s/)).toHaveLength(1);
    const fitting = [
      { replaceStrategy: ReplaceStrategy.DELETE_FIRST },
      { previousTargetRetention: PreviousTargetRetention.KEEP, timeout: Duration.hours(104) },
    ];
    for (const props of fitting) {
      expect(Annotations.fromStack(build({ timeout: Duration.hours(80), ...props })).findWarning('*', Match.anyValue())).toEqual([]);
    }
    // Exactly the budgets is enough.
    expect(warned(build({ timeout: Duration.hours(130) }), /timeoutBelowBudgets|is shorter than/)).toEqual([]);
    expect(warned(build({ timeout: Duration.seconds(130 * 3600 - 1) }), /is shorter than 5 waitBudgets/)).toHaveLength(1);
  });
  test('replacing without a final snapshot', () => {
    expect(warned(build({ finalSnapshotOnReplace: false }), /without a final snapshot/)).toHaveLength(1);
  });
  test('validation queries that may together outrun the validation function', () => {
    const queries = Array.from({ length: 9 }, (_, i) => ({ name: `q${i}`, sql: 'SELECT 1' }));
    expect(warned(build({ validationQueries: queries }), /9 validation queries of up to 30s each may together exceed/)).toHaveLength(1);
    expect(warned(build({ validationQueries: queries.slice(0, 8) }), /validation queries/)).toHaveLength(0);
  });
  test('assuming ownership', () => {
    expect(warned(build({ assumeTargetOwned: true }), /even if it did not create it/)).toHaveLength(1);
  });
  test('deletion protection that blocks the next replace', () => {
    expect(warned(build({ deletionProtection: true }), /will fail with DeletionProtected/)).toHaveLength(1);
    expect(warned(build({ deletionProtection: true, allowDisableDeletionProtection: true }), /DeletionProtected/)).toHaveLength(0);
  });
  test('a mixed-case identifier is used in lower case, everywhere, with a warning', () => {
    const stack = build({ sourceClusterIdentifier: 'Prod-Aurora', targetClusterIdentifier: 'Staging-DB' });
    expect(warned(stack, /targetClusterIdentifier 'Staging-DB' is used as 'staging-db': RDS stores identifiers in lower case/)).toHaveLength(1);
    expect(warned(stack, /sourceClusterIdentifier 'Prod-Aurora' is used as 'prod-aurora'/)).toHaveLength(1);
    const template = JSON.stringify(Template.fromStack(stack).toJSON());
    expect(template).not.toMatch(/Staging-DB|Prod-Aurora/);
    expect(template).toContain(':cluster:staging-db');
    expect(template).toContain('\\"targetClusterIdentifier\\":\\"staging-db\\"');
    expect(template).toContain('\\"instanceIdentifier\\":\\"staging-db-writer\\"');
    expect(template).toContain('\\"sourceClusterIdentifier\\":\\"prod-aurora\\"');
  });
  test('an imported key whose policy cannot be extended', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    new AuroraRestorePipeline(stack, 'Restore', {
      sourceClusterIdentifier: 'prod-aurora',
      targetClusterIdentifier: 'staging-aurora',
      vpc: importedVpc(stack),
      encryptionKey: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'),
    });
    expect(warned(stack, /key policy cannot be extended/)).toHaveLength(1);
  });
});

describe('the default timeout: one waitBudget per wait loop of the configured flow, and two hours', () => {
  /** The state machine's TimeoutSeconds, and the lock TTL every function is configured with. */
  function timeouts(stack: Stack): { timeoutSeconds: number; lockTtlSeconds: number[] } {
    const t = Template.fromStack(stack);
    const configs = Object.values(t.findResources('AWS::Lambda::Function'))
      .map((fn) => JSON.parse(renderIntrinsics(fn.Properties.Environment.Variables[PIPELINE_CONFIG_ENV]) as string));
    expect(configs.length).toBeGreaterThan(0);
    return { timeoutSeconds: definitionOf(t).TimeoutSeconds, lockTtlSeconds: [...new Set(configs.map((c) => c.lockTtlSeconds))] };
  }

  test.each<[string, Partial<AuroraRestorePipelineProps>, number]>([
    ['SWAP, DELETE (the default): 5 loops, 132 h', {}, 132],
    ['SWAP, DELETE, spelt out: 132 h', { replaceStrategy: ReplaceStrategy.SWAP, previousTargetRetention: PreviousTargetRetention.DELETE }, 132],
    ['SWAP, KEEP: 4 loops, 106 h', { previousTargetRetention: PreviousTargetRetention.KEEP }, 106],
    ['DELETE_FIRST: 3 loops, 80 h', { replaceStrategy: ReplaceStrategy.DELETE_FIRST }, 80],
    ['no replace: copy and restore, counted as 3 loops, 80 h', { replaceExistingTarget: false }, 80],
  ])('%s, in the state machine and the lock TTL', (_name, props, hours) => {
    expect(defaultTimeout(props).toHours()).toBe(hours);
    expect(timeouts(build(props))).toEqual({ timeoutSeconds: hours * 3600, lockTtlSeconds: [hours * 3600] });
  });

  test('it follows a raised waitBudget, so that no warning asks for a longer timeout', () => {
    const swap = build({ waitBudget: Duration.hours(40) });
    expect(timeouts(swap)).toEqual({ timeoutSeconds: (5 * 40 + 2) * 3600, lockTtlSeconds: [(5 * 40 + 2) * 3600] });
    expect(Annotations.fromStack(swap).findWarning('*', Match.anyValue())).toEqual([]);
    const deleteFirst = build({ waitBudget: Duration.hours(40), replaceStrategy: ReplaceStrategy.DELETE_FIRST });
    expect(timeouts(deleteFirst).timeoutSeconds).toBe((3 * 40 + 2) * 3600);
    expect(Annotations.fromStack(deleteFirst).findWarning('*', Match.anyValue())).toEqual([]);
    // A shorter budget shortens it too.
    expect(timeouts(build({ waitBudget: Duration.hours(4) })).timeoutSeconds).toBe(22 * 3600);
  });

  test('a set timeout is used as it is', () => {
    expect(timeouts(build({ timeout: Duration.hours(200) }))).toEqual({ timeoutSeconds: 200 * 3600, lockTtlSeconds: [200 * 3600] });
  });

  test('it may reach Step Functions\' one-year limit, not pass it', () => {
    const year = 365 * 24 * 3600;
    const longest = (year - 2 * 3600) / 5; // 6305760 s, a whole number
    expect(timeouts(build({ waitBudget: Duration.seconds(longest) })).timeoutSeconds).toBe(year);
    expect(() => build({ waitBudget: Duration.seconds(longest + 1) })).toThrow(/over Step Functions' one-year limit\. Shorten waitBudget to at most 6305760s/);
    // DELETE_FIRST's three loops allow a longer budget; a set timeout of at most a year is accepted (with a warning).
    expect(() => build({ waitBudget: Duration.seconds(longest + 1), replaceStrategy: ReplaceStrategy.DELETE_FIRST })).not.toThrow();
    expect(() => build({ waitBudget: Duration.seconds(longest + 1), timeout: Duration.days(365) })).not.toThrow();
  });
});

describe('a source in another account (sourceAccount, sourceRoleArn, sourceShareKeyArn)', () => {
  const A = '111111111111';
  const role = `arn:aws:iam::${A}:role/RestoreSourceRole`;
  const key = `arn:aws:kms:eu-west-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  const cross = { sourceAccount: A, sourceRoleArn: role, sourceShareKeyArn: key };

  test.each<[string, Partial<AuroraRestorePipelineProps>, RegExp]>([
    ['role without sourceAccount', { sourceRoleArn: role }, /sourceRoleArn is set without sourceAccount.*Set sourceAccount/],
    ['key without sourceAccount', { sourceShareKeyArn: key }, /sourceShareKeyArn is set without sourceAccount/],
    ['not an account id', { ...cross, sourceAccount: '1111' }, /sourceAccount '1111' is not a 12-digit AWS account id/],
    ['role with the pipeline\'s own account', { sourceAccount: ENV.account, sourceRoleArn: role }, /is the pipeline's own account, yet sourceRoleArn is set.*Leave sourceRoleArn and sourceShareKeyArn out/],
    ['a role of another account', { ...cross, sourceRoleArn: 'arn:aws:iam::222222222222:role/R' }, /is not a role of the source account 111111111111/],
    ['not a role', { ...cross, sourceRoleArn: `arn:aws:iam::${A}:user/u` }, /is not a role of the source account/],
    ['not a key ARN', { ...cross, sourceShareKeyArn: 'alias/share' }, /sourceShareKeyArn 'alias\/share' is not a KMS key or alias ARN/],
    ['a key of another account', { ...cross, sourceShareKeyArn: key.replace(A, '222222222222') }, /is a key of account 222222222222, not of the source account 111111111111/],
    ['a key of another region', { ...cross, sourceShareKeyArn: key.replace('eu-west-1', 'us-east-1') }, /is in us-east-1, not in the pipeline's region eu-west-1.*Deploy AuroraRestoreSource in account 111111111111 in eu-west-1/],
    ['retaining the copy', { ...cross, retainSnapshotCopy: true }, /retainSnapshotCopy is true with a source in another account: the shareable copy lives in the source account and is always removed/],
    ['a source snapshot key', { ...cross, sourceSnapshotKey: 'KEY' as any }, /sourceSnapshotKey is set with a source in another account.*give it to AuroraRestoreSource/],
  ])('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('legal: the three together; sourceAccount alone naming the pipeline\'s own account', () => {
    expect(() => build(cross)).not.toThrow();
    expect(() => build({ ...cross, sourceRegion: 'us-east-1', retainSnapshotCopy: false })).not.toThrow();
    expect(() => build({ sourceAccount: ENV.account })).not.toThrow();
    // As in one account, a target named as the source in its region is refused (the handlers refuse it too).
    expect(() => build({ ...cross, targetClusterIdentifier: 'prod-aurora' })).toThrow(/is the source cluster in the same region/);
  });

  test('the role and key default to the names AuroraRestoreSource gives them for this account and region', () => {
    const stack = build({ sourceAccount: A });
    const config = JSON.stringify(Template.fromStack(stack).toJSON());
    const name = sourceAccessName('prod-aurora', ENV.account, ENV.region);
    expect(name).toMatch(/^arp-source-prod-aurora-[0-9a-f]{8}$/);
    expect(config).toContain(`:iam::${A}:role/${name}`);
    expect(config).toContain(`:kms:eu-west-1:${A}:alias/${name}`);
  });

  test('an environment-agnostic stack must name them', () => {
    const agnostic = (props: Partial<AuroraRestorePipelineProps>) => () => {
      const stack = new Stack(new App(), 'Agnostic');
      new AuroraRestorePipeline(stack, 'Restore', { sourceClusterIdentifier: 'prod-aurora', targetClusterIdentifier: 'staging-aurora', vpc: importedVpc(stack), ...props });
    };
    expect(agnostic({ sourceAccount: A })).toThrow(/the stack's account or region is not known at synth time.*Give sourceRoleArn and sourceShareKeyArn/);
    expect(agnostic(cross)).not.toThrow();
  });

  test('tokens are not checked', () => {
    const stack = new Stack(new App(), 'T', { env: ENV });
    const roleArn = new CfnParameter(stack, 'RoleArn').valueAsString;
    const keyArn = new CfnParameter(stack, 'KeyArn').valueAsString;
    expect(() => new AuroraRestorePipeline(stack, 'Restore', {
      sourceClusterIdentifier: 'prod-aurora',
      targetClusterIdentifier: 'staging-aurora',
      vpc: importedVpc(stack),
      sourceAccount: A,
      sourceRoleArn: roleArn,
      sourceShareKeyArn: keyArn,
    })).not.toThrow();
  });
});
