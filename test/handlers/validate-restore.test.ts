import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  captureLogs,
  DynamoDBDocumentClient,
  holdLock,
  makeRestoreProgress,
  makeState,
  MASTER_SECRET_ARN,
  sentText,
  useConfig,
} from './support/factories';
import { errors } from '../../lambda-src/lib/errors';
import * as validation from '../../lambda-src/lib/restore-validation';
import { handler } from '../../lambda-src/validate-restore';
import { PipelineErrorName, PipelineState, ValidateRestoreEvent } from '../../src/contracts';

// The SQL is tested against a real PostgreSQL (test/db/restore-validation.test.ts); here only the glue.
jest.mock('../../lambda-src/lib/restore-validation', () => ({
  ...jest.requireActual('../../lambda-src/lib/restore-validation'),
  validateRestoredCluster: jest.fn(),
}));
const validate = validation.validateRestoredCluster as jest.MockedFunction<typeof validation.validateRestoredCluster>;

const smMock = mockClient(SecretsManagerClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const MASTER_PASSWORD = 'master-Pw-77aa99';
/** Under a swap the restored cluster is a temporary one: the handler takes it from $.restore. */
const restore = makeRestoreProgress({ clusterIdentifier: 'arp-tmp-staging-db-op-1', endpoint: 'arp-tmp.cluster-x.eu-central-1.rds.amazonaws.com', masterUsername: 'clusteradmin' });
const QUERIES = [{ name: 'orders', database: 'app', sql: 'SELECT count(*) FROM orders' }];

let logs: ReturnType<typeof captureLogs>;
const run = (state: PipelineState, input: Partial<ValidateRestoreEvent> = {}) =>
  handler({ state, databases: ['app'], queries: QUERIES, statementTimeoutSeconds: 30, ...input });

beforeEach(() => {
  smMock.reset();
  ddbMock.reset();
  validate.mockReset();
  ddbMock.onAnyCommand().resolves({});
  holdLock(ddbMock);
  smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ password: MASTER_PASSWORD }) });
  validate.mockResolvedValue({ passed: 3, checks: ['built-in:master-login', 'built-in:database:app', 'orders'] });
  logs = captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('validate-restore', () => {
  test('validates the cluster $.restore names, as the master user with the target\'s master secret, and audits the checks', async () => {
    const out = await run(makeState({ restore }));
    expect(out).toEqual({ passed: 3, checks: ['built-in:master-login', 'built-in:database:app', 'orders'] });
    expect(validate).toHaveBeenCalledWith(
      { host: restore.endpoint, port: restore.port, user: 'clusteradmin', password: MASTER_PASSWORD },
      { databases: ['app'], queries: QUERIES, statementTimeoutMillis: 30_000 },
      'arp-tmp-staging-db-op-1',
    );
    expect(auditItems(ddbMock)[0]).toMatchObject({
      step: 'ValidateRestore',
      outcome: 'SUCCEEDED',
      details: { cluster: 'arp-tmp-staging-db-op-1', passed: 3, checks: ['built-in:master-login', 'built-in:database:app', 'orders'] },
    });
  });

  test('no secret value in the result, the logs or what is sent to DynamoDB', async () => {
    const out = await run(makeState({ restore }));
    const everything = [JSON.stringify(out), logs.lines.join('\n'), sentText(ddbMock)].join('\n');
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(MASTER_PASSWORD);
  });

  test('a failed check is ValidationFailed, audited FAILED with its message', async () => {
    validate.mockRejectedValue(errors.validationFailed('Validation query "orders" (database "app") failed: it returned no rows.'));
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.VALIDATION_FAILED });
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'ValidateRestore', outcome: 'FAILED', details: { errorName: 'ValidationFailed' } });
  });

  test('an incomplete $.restore is InvalidInput, before any secret is read', async () => {
    await expect(run(makeState({ restore: { ...restore, endpoint: undefined } }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT, message: /\$\.restore is incomplete/ });
    expect(smMock.calls()).toHaveLength(0);
    expect(validate).not.toHaveBeenCalled();
  });

  test.each([
    ['queries not a list', { queries: 'SELECT 1' as never }, /'queries' must be a array/],
    ['a query without SQL', { queries: [{ name: 'x', database: 'app', sql: '' }] }, /'queries\[0\]\.sql' must be a non-empty string/],
    ['a query that is no object', { queries: [42 as never] }, /'queries\[0\]' must be an object/],
    ['no timeout', { statementTimeoutSeconds: undefined as never }, /'statementTimeoutSeconds' must be a number/],
    ['a zero timeout', { statementTimeoutSeconds: 0 }, /'statementTimeoutSeconds' must be at least 1/],
  ])('a task input with %s is InvalidInput saying to redeploy', async (_what, input, message) => {
    const err = await run(makeState({ restore }), input).then(() => undefined, (e: Error) => e);
    expect(err).toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
    expect(err!.message).toMatch(message);
    expect(err!.message).toMatch(/redeploy the stack/);
    expect(validate).not.toHaveBeenCalled();
  });

  test('without the lock it fails with LockLost and connects to nothing', async () => {
    ddbMock.reset();
    ddbMock.onAnyCommand().resolves({});
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.LOCK_LOST });
    expect(validate).not.toHaveBeenCalled();
  });
});
