import { createHash, createHmac } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import { reconcileUsers, ResolvedDbUser, scramSha256Verifier, tlsOptions, validateRoleName } from '../../lambda-src/lib/postgres';
import { DatabasePrivilege, UnmanagedLogins } from '../../src/contracts';

const HOSTILE_ROLE_NAMES = [
  "o'brien", 'a"b', 'x; DROP ROLE postgres', 'bob smith', 'tab\tname', 'new\nline', 'nul\u0000byte',
  'a'.repeat(64), 'pg_reader', 'pg_', 'rds_reader', 'rdsadmin', 'rdsx', 'Reader', 'READER', 'ünïcode', 'é',
  'reader\u200b', '1reader', '-reader', 'a-b', 'a.b', '', 'postgres', 'public', 'current_user', 'session_user', 'none',
];

function expectPipelineError(fn: () => unknown, name: string): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe(name);
  return caught as Error;
}

describe('validateRoleName', () => {
  test.each(['reader', '_svc', 'app_rw_2', 'a'.repeat(63), 'r2d2', 'postgres_reader', 'rd_reader', 'pgx'])('accepts %j', (name) => {
    expect(() => validateRoleName(name)).not.toThrow();
  });

  test.each(HOSTILE_ROLE_NAMES)('rejects %j with InvalidRoleName saying what to do', (name) => {
    const err = expectPipelineError(() => validateRoleName(name), 'InvalidRoleName');
    expect(err.message).toMatch(/Use lower-case letters, digits and _/);
  });

  test('counts bytes, not characters', () => {
    // 63 ASCII bytes pass; any multi-byte character fails the pattern before the length matters.
    expect(() => validateRoleName('x'.repeat(63))).not.toThrow();
    expect(expectPipelineError(() => validateRoleName('x'.repeat(64)), 'InvalidRoleName').message).toMatch(/longer than 63 bytes/);
  });
});

describe('scramSha256Verifier', () => {
  test('matches the RFC 7677 example exchange (user "user", password "pencil")', () => {
    const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const match = /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
    expect(match).not.toBeNull();
    const storedKey = Buffer.from(match![1], 'base64');
    const serverKey = Buffer.from(match![2], 'base64');
    const authMessage = 'n=user,r=rOprNGfwEbeRWgbNEkqO,'
      + 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,'
      + 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    // Server side of the exchange: the server signature the RFC lists comes from ServerKey ...
    expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // ... and the RFC's client proof, unmasked with HMAC(StoredKey, AuthMessage), hashes to StoredKey.
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    // eslint-disable-next-line no-bitwise -- ClientKey = ClientProof XOR ClientSignature (RFC 5802 §3)
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  test('uses a fresh 16-byte salt each time and never contains the password', () => {
    const a = scramSha256Verifier('correct horse');
    const b = scramSha256Verifier('correct horse');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toContain('correct horse');
  });

  test('rejects an empty password with SecretInvalid', () => {
    expectPipelineError(() => scramSha256Verifier(''), 'SecretInvalid');
  });
});

describe('tlsOptions', () => {
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsopts-'));
    delete process.env.NODE_EXTRA_CA_CERTS;
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  });

  test('verifies the certificate against the endpoint name', () => {
    const opts = tlsOptions('target.cluster-abc.eu-west-1.rds.amazonaws.com');
    expect(opts.rejectUnauthorized).toBe(true);
    expect(opts.servername).toBe('target.cluster-abc.eu-west-1.rds.amazonaws.com');
    expect(opts.ca).toBeUndefined();
  });

  test('checks an IP address against the certificate without sending it as SNI', () => {
    const opts = tlsOptions('127.0.0.1');
    expect(opts.rejectUnauthorized).toBe(true);
    expect(opts.servername).toBeUndefined();
    expect(opts.host).toBe('127.0.0.1');
  });

  test('reads NODE_EXTRA_CA_CERTS when called, not when loaded', () => {
    const file = path.join(dir, 'bundle.pem');
    fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nfirst\n-----END CERTIFICATE-----\n');
    process.env.NODE_EXTRA_CA_CERTS = file;
    expect(tlsOptions('db.example.com').ca).toContain('first');
    fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nsecond\n-----END CERTIFICATE-----\n');
    expect(tlsOptions('db.example.com').ca).toContain('second');
  });

  test('an unreadable NODE_EXTRA_CA_CERTS is a DatabaseSetupFailed naming the file', () => {
    process.env.NODE_EXTRA_CA_CERTS = path.join(dir, 'missing.pem');
    const err = expectPipelineError(() => tlsOptions('db.example.com'), 'DatabaseSetupFailed');
    expect(err.message).toContain('missing.pem');
    expect(err.message).toMatch(/RDS certificate authorities/);
  });
});

describe('reconcileUsers validates everything before connecting', () => {
  // Nothing listens here: reaching the network would fail with DatabaseUnavailable instead.
  const conn = { host: '127.0.0.1', port: 1, user: 'master', password: 'master-Secret-1', connectTimeoutMillis: 500 };
  const good: ResolvedDbUser = { username: 'reader', password: 'reader-Secret-1', privilege: DatabasePrivilege.READ_ONLY, databases: ['app'], schemas: ['public'] };
  let connectSpy: jest.SpyInstance;
  beforeEach(() => {
    connectSpy = jest.spyOn(Client.prototype, 'connect');
  });
  afterEach(() => connectSpy.mockRestore());

  async function rejection(users: ResolvedDbUser[]): Promise<Error> {
    const err = await reconcileUsers(conn, users, { unmanagedLogins: UnmanagedLogins.DISABLE }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(connectSpy).not.toHaveBeenCalled();
    // Booleans, so a failure does not print a password.
    for (const secret of [conn.password, ...users.map((u) => u.password).filter((p) => p)]) expect(err!.message.includes(secret)).toBe(false);
    return err!;
  }

  test.each(HOSTILE_ROLE_NAMES)('a hostile role name %j, even after a valid user, is InvalidRoleName', async (name) => {
    const err = await rejection([good, { ...good, username: name, password: 'hostile-Secret-1' }]);
    expect(err.name).toBe('InvalidRoleName');
  });

  test.each([
    ['database', "app'; DROP DATABASE app; --"], ['database', 'App'], ['database', 'template1'], ['database', 'rdsadmin'],
    ['database', 'x'.repeat(64)], ['schema', 'sales data'], ['schema', 'pg_catalog'], ['schema', 'information_schema'],
    ['schema', 'a"b'], ['schema', ''],
  ])('a bad %s name %j is InvalidInput naming it', async (kind, name) => {
    const user = kind === 'database' ? { ...good, databases: ['app', name] } : { ...good, schemas: ['public', name] };
    const err = await rejection([user]);
    expect(err.name).toBe('InvalidInput');
    expect(err.message).toContain(`${kind} name`);
  });

  test('the master user itself is refused', async () => {
    expect((await rejection([{ ...good, username: 'master' }])).name).toBe('InvalidRoleName');
  });

  test('a role listed twice is refused', async () => {
    const err = await rejection([good, { ...good, password: 'other-Secret-2' }]);
    expect(err.name).toBe('InvalidInput');
    expect(err.message).toMatch(/listed twice/);
  });

  test('an empty password is SecretInvalid', async () => {
    expect((await rejection([{ ...good, password: '' }])).name).toBe('SecretInvalid');
  });

  test('an unknown privilege is InvalidInput', async () => {
    expect((await rejection([{ ...good, privilege: 'SUPERUSER' as DatabasePrivilege }])).name).toBe('InvalidInput');
  });

  test.each([0, -1, 2.5, Number.NaN])('a connection limit of %p is InvalidInput', async (limit) => {
    const err = await rejection([{ ...good, connectionLimit: limit }]);
    expect(err.name).toBe('InvalidInput');
    expect(err.message).toMatch(/connection limit/);
  });

  test('an unknown unmanagedLogins mode is InvalidInput, with or without users', async () => {
    for (const users of [[good], []]) {
      const err = await reconcileUsers(conn, users, { unmanagedLogins: 'DROP' as UnmanagedLogins }).then(() => undefined, (e: Error) => e);
      expect(err?.name).toBe('InvalidInput');
      expect(connectSpy).not.toHaveBeenCalled();
    }
  });

  test('valid users do reach the network (the negative control of the tests above)', async () => {
    const err = await reconcileUsers(conn, [good], { unmanagedLogins: UnmanagedLogins.DISABLE }).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('DatabaseUnavailable');
    expect(connectSpy).toHaveBeenCalled();
    expect(err!.message.includes(conn.password)).toBe(false);
    expect(err!.message.includes(good.password)).toBe(false);
  });
});
