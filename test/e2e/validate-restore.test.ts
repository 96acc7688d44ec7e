/*
 * e2e: ValidateRestore on the restored cluster (moto for AWS, the local PostgreSQL standing in for the cluster),
 * with the bundled handlers and the IAM recorder:
 * - configured queries that pass: the run succeeds, the audit trail and the success notification record the checks;
 * - a query that fails: the run ends FAILED with ValidationFailed, notified, naming the query and never the data it
 *   returned; nothing after the validation runs, and the lock is released.
 */
import { APP_DATABASE, APP_TABLE } from './support/local-cluster';
import { pipelineStack } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, startScenario, startWorld, type World } from './support/world';
import type { ValidationQuery } from '../../src';

jest.setTimeout(600_000);

/** What the stand-in's application table holds (test/support/restored-production.ts): no message may show it. */
const ROW_TEXT = 'restored from the source';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true });
});
afterAll(async () => {
  await world?.stop();
});

async function scenario(validationQueries: ValidationQuery[]) {
  return startScenario(world, pipelineStack({ databaseNames: [APP_DATABASE], validationQueries }).stack);
}

describe('validation of the restored cluster', () => {
  test('queries that pass: SUCCEEDED, the checks in $.validation, the audit trail and the notification', async () => {
    const s = await scenario([
      { name: 'accounts-present', sql: `SELECT count(*) FROM public.${APP_TABLE}` },
      { name: 'engine-answers', database: APP_DATABASE, sql: 'SELECT version() IS NOT NULL' },
    ]);
    const { h } = s;
    const run = await h.run({ requestedBy: 'e2e' }, { executionName: 'validated-1' });
    expectSucceeded(run);
    const checks = ['built-in:master-login', `built-in:database:${APP_DATABASE}`, 'accounts-present', 'engine-answers'];

    expect(run.path.slice(-6)).toEqual(['SetupDbUsers', 'ValidateRestore', 'Swap?', 'ArchiveSnapshot', 'NotifySuccess', 'Succeeded']);
    const validation = run.invocations.find((i) => i.stateName === 'ValidateRestore')!;
    expect(validation.result).toEqual({ passed: 4, checks });
    // It validated the cluster RestoreSnapshot/CheckRestoreStatus reported, found in $.restore.
    expect((validation.event as any).state.restore).toMatchObject({ clusterIdentifier: 'staging-aurora', endpoint: 'localhost' });

    const trail = await auditTrail(h, 'validated-1');
    expect(trail.slice(-4)).toEqual(['SetupDbUsers:SUCCEEDED', 'ValidateRestore:SUCCEEDED', 'ArchiveSnapshot:SKIPPED', 'SnsNotification:SUCCEEDED']);
    const audit = (await h.auditItems('validated-1')).find((i) => i.step === 'ValidateRestore')!;
    expect(audit.details).toMatchObject({ cluster: 'staging-aurora', passed: 4, checks });

    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'SUCCEEDED', validation: { passed: 4, checks } });
    expect(Object.keys(message.stepDurationsMs)).toContain('ValidateRestore');
    expect(await s.leaks([run])).toEqual([]);
  });

  test('a query that fails: FAILED with ValidationFailed, notified, naming the query and not the data; nothing archived, lock released', async () => {
    const s = await scenario([
      { name: 'accounts-present', sql: `SELECT count(*) FROM public.${APP_TABLE}` },
      { name: 'account-names', sql: `SELECT name FROM public.${APP_TABLE}` },
      { name: 'never-reached', sql: 'SELECT true' },
    ]);
    const { h } = s;
    const run = await h.run({ requestedBy: 'e2e' }, { executionName: 'validated-2' });

    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('ValidationFailed');
    expect(run.path.slice(-4)).toEqual(['SetupDbUsers', 'ValidateRestore', 'NotifyFailure', 'Failed']);
    // A verdict, not a fault: tried once.
    expect(run.invocations.filter((i) => i.stateName === 'ValidateRestore')).toHaveLength(1);
    const cause = JSON.parse(run.error!.Cause).errorMessage as string;
    expect(cause).toMatch(/^Validation query "account-names" \(database "app"\) failed on the restored cluster staging-aurora/);
    expect(cause).toMatch(/neither boolean nor a number/);
    expect(cause).not.toContain(ROW_TEXT);

    expect(await h.stateItem('validated-2')).toMatchObject({ status: 'FAILED', error_name: 'ValidationFailed', error_message: cause });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status: 'FAILED', operationId: 'validated-2', error: { name: 'ValidationFailed', cause } });
    expect(JSON.stringify(message)).not.toContain(ROW_TEXT);
    expect((await auditTrail(h, 'validated-2')).slice(-3)).toEqual(['SetupDbUsers:SUCCEEDED', 'ValidateRestore:FAILED', 'SnsNotification:SUCCEEDED']);
    expect(await s.leaks([run])).toEqual([]);
  });
});
