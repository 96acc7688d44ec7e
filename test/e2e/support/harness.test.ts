/*
 * The secret scan of the e2e harness: what counts as a secret value, and that a value is found wherever a
 * run made it observable, reported by place and index only.
 */
import { findSecretLeaks, secretLeaves, type E2EHarness } from './harness';
import type { PipelineRun } from './run-pipeline';

describe('secretLeaves', () => {
  test('a plain secret is secret as a whole; in JSON, the values of password-like keys', () => {
    expect(secretLeaves('plain-value-123')).toEqual(['plain-value-123']);
    expect(secretLeaves(JSON.stringify({ username: 'app', password: 'p@ss"word', apiKey: 'k-1', port: 5432, host: 'db' })))
      .toEqual(['p@ss"word', 'k-1']);
    expect(secretLeaves('')).toEqual([]);
  });
});

describe('findSecretLeaks', () => {
  const run = (over: Partial<PipelineRun>): PipelineRun => ({
    status: 'SUCCEEDED', executionArn: 'arn', executionName: 'n', events: [], invocations: [], path: [], ...over,
  });
  const fakeHarness = (stateItems: object[], auditItems: object[], messages: string[]): E2EHarness => ({
    config: { auditTableName: 'audit' },
    messages,
    stateItems: async () => stateItems,
    ddb: { send: async () => ({ Items: auditItems }) },
    receiveMessages: async () => [],
  }) as unknown as E2EHarness;

  test('finds each value in logs, payloads, items, notifications and extra texts; reports where and which, never the value', async () => {
    const secrets = ['s3cr3t-one', 'quote"secret', 'never-seen'];
    const leaks = await findSecretLeaks(
      fakeHarness([{ operation_id: 'op', note: 'has s3cr3t-one' }], [{ time_step: 't#Step', details: {} }], ['{"x":"quote\\"secret"}']),
      [run({
        invocations: [{
          stateName: 'SetupDbUsers', logicalId: 'Fn', event: {}, result: { ok: true }, logs: ['connecting with s3cr3t-one'], executionName: 'n', attempt: 0, startedAt: 0, durationMs: 1,
        }],
        events: [{ type: 'ExecutionStarted', timestamp: 0, input: { p: 'quote"secret' } } as never],
      })],
      secrets,
      { 'server log': 'nothing here' },
    );
    expect(leaks).toEqual(expect.arrayContaining([
      { where: 'run 0 invocation 0 (SetupDbUsers) logs', secretIndex: 0 },
      { where: 'state item 0 (op)', secretIndex: 0 },
      { where: 'run 0 event 0 (ExecutionStarted)', secretIndex: 1 },
      { where: 'notification 0', secretIndex: 1 },
    ]));
    expect(leaks).toHaveLength(4);
    expect(JSON.stringify(leaks)).not.toMatch(/s3cr3t|quote/);
  });

  test('a clean run has no leaks', async () => {
    expect(await findSecretLeaks(fakeHarness([], [], ['{}']), [run({ output: { done: true } })], ['s3cr3t-one'])).toEqual([]);
  });
});
