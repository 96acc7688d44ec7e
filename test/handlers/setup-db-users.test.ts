import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ACCOUNT,
  auditItems,
  awsError,
  captureLogs,
  DEFAULT_DB_USERS,
  DynamoDBDocumentClient,
  makeRestoreProgress,
  makeState,
  MASTER_SECRET_ARN,
  sentText,
  TARGET_REGION,
  useConfig,
  USER_SECRET_ARN,
  holdLock,
} from './support/factories';
import * as postgres from '../../lambda-src/lib/postgres';
import { handler } from '../../lambda-src/setup-db-users';
import { DatabasePrivilege, DbUsersResult, DbUserSpec, PipelineErrorName, PipelineState, UnmanagedLogins } from '../../src/contracts';

// The SQL is tested against a real PostgreSQL elsewhere; here only the glue: keep the real name checks.
jest.mock('../../lambda-src/lib/postgres', () => ({
  ...jest.requireActual('../../lambda-src/lib/postgres'),
  reconcileUsers: jest.fn(),
}));
const reconcileUsers = postgres.reconcileUsers as jest.MockedFunction<typeof postgres.reconcileUsers>;

const smMock = mockClient(SecretsManagerClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const MASTER_PASSWORD = 'master-Pw-9f8e7d';
const USER_PASSWORD = 'user-Pw-1a2b3c';
const OTHER_SECRET_ARN = `arn:aws:secretsmanager:${TARGET_REGION}:${ACCOUNT}:secret:report-user-MnOpQr`;

const restore = makeRestoreProgress({ attempt: 4, masterUsername: 'postgres_admin', engineVersion: undefined });

let logs: ReturnType<typeof captureLogs>;
/** The users the state machine passes with the state (the SetupDbUsers task's `users` parameter). */
let users: DbUserSpec[];
let unmanagedLogins: UnmanagedLogins;
const run = (state: PipelineState) => handler({ state, users, unmanagedLogins });
const result = (r: Partial<DbUsersResult>): DbUsersResult => ({
  created: [], updated: [], databases: [], disabledLogins: [], revokedMemberships: [], ...r,
});
beforeEach(() => {
  users = DEFAULT_DB_USERS;
  unmanagedLogins = UnmanagedLogins.DISABLE;
  smMock.reset();
  ddbMock.reset();
  reconcileUsers.mockReset();
  ddbMock.onAnyCommand().resolves({});
  holdLock(ddbMock);
  smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'postgres_admin', password: MASTER_PASSWORD }) });
  smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'app_user', password: USER_PASSWORD }) });
  smMock.on(GetSecretValueCommand, { SecretId: OTHER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ user: 'reporting', pw: 'other-Pw-445566' }) });
  reconcileUsers.mockResolvedValue(result({ created: ['app_user'], databases: ['app'], disabledLogins: ['prod_app'], revokedMemberships: ['rds_superuser from app_user'] }));
  logs = captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('setup-db-users', () => {
  test('reads the secrets and reconciles the users on the restored cluster with the master user', async () => {
    const out = await run(makeState({ restore }));
    expect(out).toEqual(result({ created: ['app_user'], databases: ['app'], disabledLogins: ['prod_app'], revokedMemberships: ['rds_superuser from app_user'] }));
    expect(reconcileUsers).toHaveBeenCalledWith(
      { host: restore.endpoint, port: 5432, user: 'postgres_admin', password: MASTER_PASSWORD },
      [{ username: 'app_user', password: USER_PASSWORD, privilege: DatabasePrivilege.READ_WRITE, databases: ['app'], schemas: ['public'], connectionLimit: undefined }],
      { unmanagedLogins: UnmanagedLogins.DISABLE },
    );
    expect(auditItems(ddbMock)[0]).toMatchObject({
      step: 'SetupDbUsers',
      outcome: 'SUCCEEDED',
      details: { created: ['app_user'], databases: ['app'], disabledLogins: ['prod_app'], revokedMemberships: ['rds_superuser from app_user'] },
    });
  });

  test('passes the connection limit and KEEP through', async () => {
    users = [{ ...DEFAULT_DB_USERS[0], connectionLimit: 7 }];
    unmanagedLogins = UnmanagedLogins.KEEP;
    await run(makeState({ restore }));
    expect(reconcileUsers.mock.calls[0][1][0].connectionLimit).toBe(7);
    expect(reconcileUsers.mock.calls[0][2]).toEqual({ unmanagedLogins: UnmanagedLogins.KEEP });
  });

  test('no secret value in the payload, the logs or what is sent to DynamoDB', async () => {
    const out = await run(makeState({ restore }));
    const everything = [JSON.stringify(out), logs.lines.join('\n'), sentText(ddbMock)].join('\n');
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const secret of [MASTER_PASSWORD, USER_PASSWORD]) expect(everything).not.toContain(secret);
  });

  test('the user name can come from the secret\'s username key; a shared secret is read once', async () => {
    users = [
      { ...DEFAULT_DB_USERS[0], username: undefined },
      { secretArn: OTHER_SECRET_ARN, usernameKey: 'user', passwordKey: 'pw', privilege: DatabasePrivilege.READ_ONLY, databases: ['app', 'reports'], schemas: ['public'] },
      { username: 'app_owner', secretArn: USER_SECRET_ARN, usernameKey: 'username', passwordKey: 'password', privilege: DatabasePrivilege.OWNER, databases: ['app'], schemas: ['public'] },
    ];
    await run(makeState({ restore }));
    const resolved = reconcileUsers.mock.calls[0][1];
    expect(resolved.map((u) => [u.username, u.privilege])).toEqual([['app_user', 'READ_WRITE'], ['reporting', 'READ_ONLY'], ['app_owner', 'OWNER']]);
    expect(resolved[1].password).toBe('other-Pw-445566');
    const read = smMock.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId);
    expect(read).toEqual([MASTER_SECRET_ARN, USER_SECRET_ARN, OTHER_SECRET_ARN]);
  });

  test('a second call reconciles again and reports what reconcileUsers reports (roles now updated)', async () => {
    await run(makeState({ restore }));
    reconcileUsers.mockResolvedValue(result({ updated: ['app_user'], databases: ['app'] }));
    expect(await run(makeState({ restore }))).toEqual(result({ updated: ['app_user'], databases: ['app'] }));
    expect(reconcileUsers).toHaveBeenCalledTimes(2);
  });

  test('no users and KEEP: nothing to do, no secret read, no connection, audited SKIPPED', async () => {
    users = [];
    unmanagedLogins = UnmanagedLogins.KEEP;
    expect(await run(makeState({ restore }))).toEqual(result({}));
    expect(smMock.calls()).toHaveLength(0);
    expect(reconcileUsers).not.toHaveBeenCalled();
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SKIPPED' });
  });

  test('no users and DISABLE: still connects with the master password to disable the production logins', async () => {
    users = [];
    reconcileUsers.mockResolvedValue(result({ disabledLogins: ['prod_app', 'prod_dba'] }));
    expect(await run(makeState({ restore }))).toEqual(result({ disabledLogins: ['prod_app', 'prod_dba'] }));
    expect(reconcileUsers).toHaveBeenCalledWith(
      expect.objectContaining({ password: MASTER_PASSWORD }), [], { unmanagedLogins: UnmanagedLogins.DISABLE });
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SUCCEEDED', details: { disabledLogins: ['prod_app', 'prod_dba'] } });
  });

  test('InvalidInput when unmanagedLogins is missing or unknown (not what the construct writes), before any secret is read', async () => {
    for (const value of [undefined, 'DROP']) {
      unmanagedLogins = value as UnmanagedLogins;
      await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT, message: expect.stringMatching(/unmanagedLogins.*redeploy/) });
    }
    expect(smMock.calls()).toHaveLength(0);
  });

  test('InvalidRoleName before any connection, even when only one of the names is bad', async () => {
    users = [DEFAULT_DB_USERS[0], { ...DEFAULT_DB_USERS[0], username: 'Robert"); DROP TABLE students;--' }];
    const err = await run(makeState({ restore })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.INVALID_ROLE_NAME);
    expect(reconcileUsers).not.toHaveBeenCalled();
  });

  test('InvalidRoleName for a name read from the secret', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'pg_admin', password: USER_PASSWORD }) });
    users = [{ ...DEFAULT_DB_USERS[0], username: undefined }];
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_ROLE_NAME });
    expect(reconcileUsers).not.toHaveBeenCalled();
  });

  test.each([
    ['a malformed name', 'Robert"); DROP TABLE students;--'],
    ['a reserved name', 'rds_superuser_x'],
  ])('a name read from the secret is never repeated in the error (%s): the message names the secret and its key', async (_what, name) => {
    smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN })
      .resolves({ SecretString: JSON.stringify({ username: name, password: USER_PASSWORD }) });
    users = [{ ...DEFAULT_DB_USERS[0], username: undefined }];
    const err = await run(makeState({ restore })).catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.INVALID_ROLE_NAME);
    expect(err.message).toContain(`database user #1 (name from key "username" of secret ${USER_SECRET_ARN})`);
    expect(err.message).toContain('fix the secret\'s "username" value');
    expect(err.message).not.toContain(name);
    expect(JSON.stringify(auditItems(ddbMock))).not.toContain(name);
  });

  test('a role named twice, once through a secret: the message names where each comes from, not the secret\'s value', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'app_user', password: USER_PASSWORD }) });
    users = [DEFAULT_DB_USERS[0], { ...DEFAULT_DB_USERS[0], username: undefined }];
    const err = await run(makeState({ restore })).catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
    expect(err.message).toBe(`database user #2 (name from key "username" of secret ${USER_SECRET_ARN}) and database user app_user name the same database role. `
      + 'Configure each role once, with all its databases and schemas.');
  });

  test('InvalidInput for a user configured twice', async () => {
    users = [DEFAULT_DB_USERS[0], DEFAULT_DB_USERS[0]];
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
    expect(reconcileUsers).not.toHaveBeenCalled();
  });

  test('SecretInvalid names the secret and the missing key, never a value', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'app_user', passwd: USER_PASSWORD }) });
    const err = await run(makeState({ restore })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SECRET_INVALID);
    expect(err.message).toContain(USER_SECRET_ARN);
    expect(err.message).toContain('"password"');
    const everything = [err.message, logs.lines.join('\n'), sentText(ddbMock)].join('\n');
    for (const secret of [MASTER_PASSWORD, USER_PASSWORD]) expect(everything).not.toContain(secret);
    expect(reconcileUsers).not.toHaveBeenCalled();
  });

  test('SecretInvalid when the master secret lacks its password', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'postgres_admin' }) });
    await expect(run(makeState({ restore })))
      .rejects.toMatchObject({ name: PipelineErrorName.SECRET_INVALID, message: expect.stringContaining(MASTER_SECRET_ARN) });
  });

  test('SecretInvalid when a secret does not exist', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).rejects(awsError('ResourceNotFoundException'));
    await expect(run(makeState({ restore })))
      .rejects.toMatchObject({ name: PipelineErrorName.SECRET_INVALID, message: expect.stringContaining(USER_SECRET_ARN) });
  });

  test('errors of the database setup pass through under their names (DatabaseUnavailable is retried)', async () => {
    reconcileUsers.mockRejectedValue(Object.assign(new Error('connection refused: retried'), { name: PipelineErrorName.DATABASE_UNAVAILABLE }));
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.DATABASE_UNAVAILABLE });
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'FAILED', details: { errorName: 'DatabaseUnavailable' } });
  });

  test('InvalidInput when $.restore has no endpoint', async () => {
    await expect(run(makeState({ restore: { ...restore, endpoint: undefined } })))
      .rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
    expect(smMock.calls()).toHaveLength(0);
  });

  test('InvalidInput when the task input\'s users are malformed (not what the construct writes)', async () => {
    users = [{ ...DEFAULT_DB_USERS[0], secretArn: '' }];
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT, message: expect.stringMatching(/users\[0\]\.secretArn.*redeploy/) });
    expect(smMock.calls()).toHaveLength(0);
  });

  test('throttling of Secrets Manager passes through under its SDK name', async () => {
    smMock.on(GetSecretValueCommand).rejects(awsError('ThrottlingException'));
    await expect(run(makeState({ restore }))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
