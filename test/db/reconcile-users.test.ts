/*
 * reconcileUsers against a real PostgreSQL server (test/support/postgres.ts): TLS with a throwaway CA,
 * SCRAM-SHA-256, log_statement=all. The superuser plays the master user, except in the last block, where a
 * CREATEROLE non-superuser plays it as on Aurora. These tests are about roles and grants: they keep the
 * unmanaged logins (KEEP), so the roles of one block survive the next; DISABLE, the restored production
 * roles and the Aurora-like master in rds_superuser are tested in restored-production.test.ts.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { Client } from 'pg';
import { DbConnection, reconcileUsers as reconcile, ResolvedDbUser, scramSha256Verifier } from '../../lambda-src/lib/postgres';
import { DatabasePrivilege, UnmanagedLogins } from '../../src/contracts';
import { usePostgres, type TestPostgres } from '../support/postgres';
import { createCertificateAuthority, issueServerCertificate } from '../support/tls';

jest.setTimeout(600_000);

const reconcileUsers = (c: DbConnection, users: ResolvedDbUser[]) => reconcile(c, users, { unmanagedLogins: UnmanagedLogins.KEEP });
const NOTHING_ELSE = { disabledLogins: [], revokedMemberships: [] };

let pg: TestPostgres;
let conn: DbConnection;
/** Every clear password this file uses; none may ever show up in the server's log. */
const usedPasswords: string[] = [];

function password(label: string): string {
  // Quotes, backslash, semicolon and non-ASCII would break a naively built statement.
  const p = `${label}-'"\\;ü-${randomBytes(9).toString('base64url')}`;
  usedPasswords.push(p);
  return p;
}

function user(username: string, privilege: DatabasePrivilege, databases: string[], schemas: string[]): ResolvedDbUser {
  return { username, password: password(username), privilege, databases, schemas };
}

async function login(u: { username: string; password: string }, database = 'app'): Promise<Client> {
  return pg.connect(database, u.username, u.password);
}

async function as<T>(u: { username: string; password: string }, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await login(u, database);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function sqlError(u: { username: string; password: string }, database: string, sql: string): Promise<string | undefined> {
  return as(u, database, (c) => c.query(sql).then(() => undefined, (e: { code: string }) => e.code));
}

async function loginError(u: { username: string; password: string }, database = 'app'): Promise<string | undefined> {
  return login(u, database).then(async (c) => { await c.end(); return undefined; }, (e: { code?: string }) => e.code);
}

async function reconcileError(c: DbConnection, users: ResolvedDbUser[]): Promise<Error> {
  const err = await reconcileUsers(c, users).then(() => undefined, (e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  // Booleans, so a failure does not print a password.
  for (const secret of [c.password, ...users.map((u) => u.password)]) expect(err!.message.includes(secret)).toBe(false);
  expect(err!.message.includes('SCRAM-SHA-256$')).toBe(false);
  return err!;
}

/** Every privilege the given roles hold in the database: on it, its schemas, relations and default ACLs. */
async function privileges(database: string, roles: string[]): Promise<string[]> {
  return pg.withClient(database, async (c) => (await c.query(`
    SELECT 'db ' || a.privilege_type || ' ' || r.rolname AS p FROM pg_database d, aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE d.datname = current_database() AND r.rolname = ANY($1)
    UNION ALL SELECT 'schema ' || n.nspname || ' ' || a.privilege_type || ' ' || r.rolname FROM pg_namespace n, aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE r.rolname = ANY($1)
    UNION ALL SELECT 'rel ' || c.oid::regclass || ' ' || a.privilege_type || ' ' || r.rolname FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE r.rolname = ANY($1)
    UNION ALL SELECT 'default ' || d.defaclnamespace::regnamespace || ' ' || d.defaclobjtype::text || ' ' || a.privilege_type || ' ' || r.rolname
      FROM pg_default_acl d, aclexplode(d.defaclacl) a JOIN pg_roles r ON r.oid = a.grantee WHERE r.rolname = ANY($1)
    ORDER BY 1`, [roles])).rows.map((r: { p: string }) => r.p));
}

async function rolpassword(role: string): Promise<string | undefined> {
  return pg.withClient('postgres', async (c) => (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0]?.rolpassword);
}

async function roleExists(role: string): Promise<boolean> {
  return pg.withClient('postgres', async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1);
}

usePostgres(async (server) => {
  pg = server;
  // Reported by the run, not asserted: see the report for measured times.
  process.stdout.write(`test postgres ${pg.majorVersion}: initdb ${pg.startupMillis.initdb} ms, start ${pg.startupMillis.start} ms\n`);
  usedPasswords.push(pg.superPassword);
  conn = { host: pg.host, port: pg.port, user: pg.superuser, password: pg.superPassword };
  await pg.withClient('postgres', async (c) => {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE DATABASE reports');
  });
  await pg.withClient('app', async (c) => {
    await c.query('CREATE SCHEMA sales; CREATE SCHEMA archive');
    await c.query('CREATE TABLE public.items (id serial PRIMARY KEY, name text)');
    await c.query('CREATE TABLE sales.orders (id bigserial PRIMARY KEY, amount int)');
    await c.query("INSERT INTO public.items (name) VALUES ('one'); INSERT INTO sales.orders (amount) VALUES (10)");
    await c.query('CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE amount > 5');
  });
  await pg.withClient('reports', (c) => c.query('CREATE TABLE public.daily (day date, total int); CREATE SCHEMA sales'));
});

describe('roles and passwords', () => {
  const reader = user('reader', DatabasePrivilege.READ_ONLY, ['app', 'reports'], ['public', 'sales']);
  const writer = user('writer', DatabasePrivilege.READ_WRITE, ['app'], ['public', 'sales']);
  const owner = user('app_owner', DatabasePrivilege.OWNER, ['app'], ['sales']);

  test('creates the roles with LOGIN and a SCRAM-SHA-256 password, over TLS', async () => {
    const logBefore = pg.readLog().length;
    const result = await reconcileUsers(conn, [reader, writer, owner]);
    expect(result).toEqual({ created: ['reader', 'writer', 'app_owner'], updated: [], databases: ['app', 'reports'], ...NOTHING_ELSE });
    for (const u of [reader, writer, owner]) {
      expect(await rolpassword(u.username)).toMatch(/^SCRAM-SHA-256\$4096:/);
      await (await login(u)).end();
    }
    // Each connection reconcileUsers opened was TLS.
    const sessions = pg.readLog().slice(logBefore).split('\n').filter((l) => l.includes('connection authorized: user=postgres'));
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    for (const line of sessions) expect(line).toContain('SSL enabled');
  });

  test('a second run converges: every role updated, the same privileges, the same passwords still work', async () => {
    const roles = [reader.username, writer.username, owner.username];
    const before = [...await privileges('app', roles), ...await privileges('reports', roles)];
    const verifierBefore = await rolpassword('reader');
    const result = await reconcileUsers(conn, [reader, writer, owner]);
    expect(result).toEqual({ created: [], updated: ['reader', 'writer', 'app_owner'], databases: ['app', 'reports'], ...NOTHING_ELSE });
    expect([...await privileges('app', roles), ...await privileges('reports', roles)]).toEqual(before);
    expect(before.length).toBeGreaterThan(10);
    expect(await rolpassword('reader')).not.toBe(verifierBefore); // new salt, same password
    for (const u of [reader, writer, owner]) await (await login(u)).end();
  });

  test('a changed password takes effect: the new one logs in, the old one is refused', async () => {
    const changed = { ...writer, password: password('writer-new') };
    await reconcileUsers(conn, [changed]);
    expect(await loginError(changed)).toBeUndefined();
    expect(await loginError(writer)).toBe('28P01');
    await reconcileUsers(conn, [writer]); // back, for the tests below
    expect(await loginError(writer)).toBeUndefined();
  });

  test('a role that exists without LOGIN and with an expired validity (as restored from the source) can log in after', async () => {
    const legacy = user('legacy_svc', DatabasePrivilege.READ_ONLY, ['app'], ['public']);
    await pg.withClient('postgres', (c) => c.query("CREATE ROLE legacy_svc NOLOGIN VALID UNTIL '2000-01-01'"));
    expect(await reconcileUsers(conn, [legacy])).toEqual({ created: [], updated: ['legacy_svc'], databases: ['app'], ...NOTHING_ELSE });
    expect(await loginError(legacy)).toBeUndefined();
  });

  test('a role that is a superuser in the restored cluster is refused and nothing changes', async () => {
    await pg.withClient('postgres', (c) => c.query('CREATE ROLE restored_admin SUPERUSER'));
    const fresh = user('fresh_role', DatabasePrivilege.READ_ONLY, ['app'], ['public']);
    const err = await reconcileError(conn, [fresh, user('restored_admin', DatabasePrivilege.READ_ONLY, ['app'], ['public'])]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toMatch(/restored_admin.*superuser/);
    expect(await roleExists('fresh_role')).toBe(false);
  });
});

describe('privileges', () => {
  const reader = user('ro_user', DatabasePrivilege.READ_ONLY, ['app', 'reports'], ['public', 'sales']);
  const writer = user('rw_user', DatabasePrivilege.READ_WRITE, ['app'], ['public', 'sales']);
  const owner = user('owner_user', DatabasePrivilege.OWNER, ['app'], ['sales']);

  beforeAll(async () => {
    await reconcileUsers(conn, [reader, writer, owner]);
  });

  test('READ_ONLY can SELECT tables, views and sequences, and cannot write or create', async () => {
    await as(reader, 'app', async (c) => {
      expect((await c.query('SELECT count(*)::int AS n FROM sales.orders')).rows[0].n).toBeGreaterThan(0);
      await c.query('SELECT * FROM sales.big_orders');
      await c.query('SELECT last_value FROM public.items_id_seq');
    });
    await as(reader, 'reports', (c) => c.query('SELECT * FROM public.daily'));
    expect(await sqlError(reader, 'app', "INSERT INTO public.items (name) VALUES ('x')")).toBe('42501');
    expect(await sqlError(reader, 'app', 'UPDATE sales.orders SET amount = 1')).toBe('42501');
    expect(await sqlError(reader, 'app', "SELECT nextval('sales.orders_id_seq')")).toBe('42501');
    expect(await sqlError(reader, 'app', 'CREATE TABLE sales.mine (x int)')).toBe('42501');
  });

  test('READ_WRITE can INSERT, UPDATE, DELETE, TRUNCATE and use sequences, but cannot create', async () => {
    await as(writer, 'app', async (c) => {
      await c.query("INSERT INTO public.items (name) VALUES ('from writer')");
      await c.query('INSERT INTO sales.orders (amount) VALUES (7)');
      await c.query('UPDATE sales.orders SET amount = amount + 1 WHERE amount = 8');
      await c.query("DELETE FROM public.items WHERE name = 'from writer'");
      await c.query("SELECT nextval('sales.orders_id_seq')");
    });
    expect(await sqlError(writer, 'app', 'CREATE TABLE sales.mine (x int)')).toBe('42501');
    expect(await sqlError(writer, 'app', 'CREATE TABLE public.mine (x int)')).toBe('42501');
    // Not granted on reports.
    expect(await sqlError(writer, 'reports', 'SELECT * FROM public.daily')).toBe('42501');
  });

  test('OWNER can CREATE TABLE in its schema and has every privilege on the existing tables', async () => {
    await as(owner, 'app', async (c) => {
      await c.query('CREATE TABLE sales.owner_made (id int)');
      await c.query('INSERT INTO sales.orders (amount) VALUES (3)');
      await c.query('TRUNCATE sales.orders');
      await c.query('CREATE TEMP TABLE scratch (x int)');
    });
    // Only its configured schema.
    expect(await sqlError(owner, 'app', 'SELECT * FROM public.items')).toBe('42501');
  });

  test('default privileges cover tables and sequences the master user creates after the grant', async () => {
    await pg.withClient('app', (c) => c.query('CREATE TABLE sales.later (id serial PRIMARY KEY, note text); CREATE TABLE public.later_too (x int)'));
    await as(writer, 'app', async (c) => {
      await c.query("INSERT INTO sales.later (note) VALUES ('after the grant')");
      await c.query('INSERT INTO public.later_too VALUES (1)');
    });
    await as(reader, 'app', async (c) => {
      expect((await c.query('SELECT note FROM sales.later')).rows).toEqual([{ note: 'after the grant' }]);
    });
    expect(await sqlError(reader, 'app', 'INSERT INTO public.later_too VALUES (2)')).toBe('42501');
    // OWNER holds privileges, not ownership: dropping the master's table stays the master's.
    expect(await sqlError(owner, 'app', 'DROP TABLE sales.later')).toBe('42501');
    await pg.withClient('app', (c) => c.query('DROP TABLE sales.later'));
  });

  test('a lower level revokes what the role held beyond it, including grants carried over from the source', async () => {
    const demoted = { ...writer, privilege: DatabasePrivilege.READ_ONLY };
    // As if the source cluster had granted more: kept by the snapshot, beyond what READ_ONLY allows.
    await pg.withClient('app', (c) => c.query('GRANT REFERENCES, TRIGGER ON sales.orders TO rw_user; GRANT CREATE ON SCHEMA public TO rw_user'));
    await reconcileUsers(conn, [demoted, reader]); // reader too: its grants then cover the same, newer tables
    expect(await sqlError(writer, 'app', "INSERT INTO public.items (name) VALUES ('x')")).toBe('42501');
    expect(await sqlError(writer, 'app', 'CREATE TABLE public.mine (x int)')).toBe('42501');
    await pg.withClient('app', (c) => c.query('CREATE TABLE sales.after_demotion (x int)'));
    expect(await sqlError(writer, 'app', 'INSERT INTO sales.after_demotion VALUES (1)')).toBe('42501');
    await as(writer, 'app', (c) => c.query('SELECT * FROM sales.after_demotion'));
    // READ_ONLY and READ_ONLY-by-demotion hold exactly the same kinds of privileges.
    const normalize = (rows: string[], role: string) => rows.map((r) => r.replace(` ${role}`, ''));
    expect(normalize(await privileges('app', ['rw_user']), 'rw_user')).toEqual(normalize(await privileges('app', ['ro_user']), 'ro_user'));
    // And back up again.
    await reconcileUsers(conn, [writer]);
    await as(writer, 'app', (c) => c.query('INSERT INTO sales.after_demotion VALUES (1)'));
  });
});

describe('missing databases and schemas', () => {
  test('a missing database is DatabaseSetupFailed naming it, and no role is created', async () => {
    const u = user('nodb_user', DatabasePrivilege.READ_ONLY, ['app', 'no_such_db'], ['public']);
    const err = await reconcileError(conn, [u]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toContain('no_such_db');
    expect(err.message).toMatch(/remove it from the user's databases/);
    expect(await roleExists('nodb_user')).toBe(false);
  });

  test('a missing schema is DatabaseSetupFailed naming it and its database, and no role is created', async () => {
    const u = user('noschema_user', DatabasePrivilege.READ_WRITE, ['reports', 'app'], ['public', 'archive']);
    const err = await reconcileError(conn, [u]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toContain('"archive"');
    expect(err.message).toContain('"reports"');
    expect(err.message).toMatch(/Nothing was changed/);
    expect(await roleExists('noschema_user')).toBe(false);
  });
});

describe('hostile names never reach the server', () => {
  test.each([
    ["x'; DROP ROLE postgres; --"], ['x" SUPERUSER --'], ['bad name'], ['a'.repeat(64)], ['pg_monitor'], ['rds_superuser'],
    ['rdsadmin'], ['Mixed'], ['ünï'],
  ])('%j: InvalidRoleName, no connection, no statement', async (name) => {
    const connectSpy = jest.spyOn(Client.prototype, 'connect');
    const logBefore = pg.readLog().length;
    try {
      const ok = user('would_be_created', DatabasePrivilege.READ_ONLY, ['app'], ['public']);
      const err = await reconcileError(conn, [ok, { ...ok, username: name, password: password('hostile') }]);
      expect(err.name).toBe('InvalidRoleName');
      expect(connectSpy).not.toHaveBeenCalled();
    } finally {
      connectSpy.mockRestore();
    }
    await new Promise((r) => setTimeout(r, 100));
    // A boolean, so a failure does not print the log.
    expect(/connection received|statement:/.test(pg.readLog().slice(logBefore))).toBe(false);
    expect(await roleExists('would_be_created')).toBe(false);
  });
});

describe('connection errors', () => {
  test('the wrong master password is DatabaseSetupFailed pointing at the master secret, without the password', async () => {
    const wrong = password('wrong-master');
    const err = await reconcileError({ ...conn, password: wrong }, [user('any_user', DatabasePrivilege.READ_ONLY, ['app'], ['public'])]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toMatch(/28P01/);
    expect(err.message).toMatch(/master secret.*check-restore-status/);
  });

  test('a server certificate from another CA is refused (rejectUnauthorized), and so is one from no trusted CA at all', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'other-ca-'));
    try {
      const other = createCertificateAuthority(dir, 'other', 'some other CA');
      process.env.NODE_EXTRA_CA_CERTS = other.certFile;
      const u = user('tls_user', DatabasePrivilege.READ_ONLY, ['app'], ['public']);
      const err = await reconcileError(conn, [u]);
      expect(err.name).toBe('DatabaseSetupFailed');
      expect(err.message).toMatch(/TLS connection .* failed/);
      expect(err.message).toMatch(/NODE_EXTRA_CA_CERTS/);
      delete process.env.NODE_EXTRA_CA_CERTS;
      expect((await reconcileError(conn, [u])).name).toBe('DatabaseSetupFailed');
      expect(await roleExists('tls_user')).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the test server itself refuses connections without TLS', async () => {
    const plain = new Client({ host: pg.host, port: pg.port, user: pg.superuser, password: pg.superPassword, database: 'postgres', ssl: false });
    plain.on('error', () => undefined);
    await expect(plain.connect()).rejects.toMatchObject({ code: '28000' });
    await plain.end().catch(() => undefined);
  });

  test('connection refused is DatabaseUnavailable (retried)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const err = await reconcileError({ ...conn, port }, [user('refused_user', DatabasePrivilege.READ_ONLY, ['app'], ['public'])]);
    expect(err.name).toBe('DatabaseUnavailable');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  test('a server that accepts but never answers is DatabaseUnavailable after the connection timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => { sockets.push(s); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const err = await reconcileError({ ...conn, port, connectTimeoutMillis: 300 }, [user('silent_user', DatabasePrivilege.READ_ONLY, ['app'], ['public'])]);
      expect(err.name).toBe('DatabaseUnavailable');
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => silent.close(r));
    }
  });

  test('a server that is still starting up (SQLSTATE 57P03) is DatabaseUnavailable', async () => {
    // A minimal server speaking the protocol over verified TLS, answering the startup message with 57P03.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-pg-'));
    const ca = createCertificateAuthority(dir, 'ca', 'fake CA');
    const cert = issueServerCertificate(dir, 'server', ca, 'localhost', ['IP:127.0.0.1']);
    const sockets: net.Socket[] = [];
    const fake = net.createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => { // SSLRequest
        socket.write('S');
        const secure = new tls.TLSSocket(socket, { isServer: true, cert: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile) });
        secure.on('error', () => undefined);
        secure.once('data', () => { // StartupMessage
          const fields = Buffer.from('SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0');
          const header = Buffer.alloc(5);
          header.write('E');
          header.writeInt32BE(fields.length + 4, 1);
          secure.end(Buffer.concat([header, fields]));
        });
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    try {
      process.env.NODE_EXTRA_CA_CERTS = ca.certFile;
      const port = (fake.address() as net.AddressInfo).port;
      const err = await reconcileError({ ...conn, port }, [user('starting_user', DatabasePrivilege.READ_ONLY, ['app'], ['public'])]);
      expect(err.name).toBe('DatabaseUnavailable');
      expect(err.message).toMatch(/57P03/);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => fake.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('as an Aurora-like master user (CREATEROLE CREATEDB, not a superuser, a member of rds_superuser)', () => {
  const master = { username: 'aurora_master', password: password('aurora-master') };
  let masterConn: DbConnection;

  beforeAll(async () => {
    await pg.withClient('postgres', async (c) => {
      await c.query(`CREATE ROLE aurora_master LOGIN NOSUPERUSER CREATEROLE CREATEDB PASSWORD ${c.escapeLiteral(scramSha256Verifier(master.password))}`);
      await c.query('CREATE ROLE rds_superuser NOLOGIN; GRANT rds_superuser TO aurora_master WITH ADMIN OPTION');
      await c.query('CREATE DATABASE aurora_app OWNER aurora_master');
      await c.query('CREATE ROLE restored_foreign LOGIN'); // created by someone else, as restored from the source
    });
    await as(master, 'aurora_app', (c) => c.query('CREATE SCHEMA app; CREATE TABLE app.accounts (id serial PRIMARY KEY, name text)'));
    masterConn = { host: pg.host, port: pg.port, user: master.username, password: master.password };
  });

  test('creates, updates and grants on its own objects, and converges', async () => {
    const svc = user('app_service', DatabasePrivilege.READ_WRITE, ['aurora_app'], ['app']);
    expect(await reconcileUsers(masterConn, [svc])).toEqual({ created: ['app_service'], updated: [], databases: ['aurora_app'], ...NOTHING_ELSE });
    expect(await reconcileUsers(masterConn, [svc])).toEqual({ created: [], updated: ['app_service'], databases: ['aurora_app'], ...NOTHING_ELSE });
    await as(svc, 'aurora_app', (c) => c.query("INSERT INTO app.accounts (name) VALUES ('a')"));
    await as(master, 'aurora_app', (c) => c.query('CREATE TABLE app.later (x int)'));
    await as(svc, 'aurora_app', (c) => c.query('INSERT INTO app.later VALUES (1)'));
  });

  test('a role it may not alter fails with DatabaseSetupFailed (42501) and rolls back the whole transaction', async () => {
    const fresh = user('fresh_service', DatabasePrivilege.READ_ONLY, ['aurora_app'], ['app']);
    const foreign = user('restored_foreign', DatabasePrivilege.READ_ONLY, ['aurora_app'], ['app']);
    const err = await reconcileError(masterConn, [fresh, foreign]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toMatch(/42501/);
    expect(err.message).toMatch(/restored_foreign/);
    expect(await roleExists('fresh_service')).toBe(false);
    expect(await rolpassword('restored_foreign')).toBeNull();
  });

  test('a table another role owns blocks the grants up front, naming it and its owner, until the master may grant on it', async () => {
    await pg.withClient('aurora_app', (c) => c.query('CREATE ROLE migrator; CREATE TABLE app.ledger (x int); ALTER TABLE app.ledger OWNER TO migrator'));
    const analyst = user('analyst', DatabasePrivilege.READ_ONLY, ['aurora_app'], ['app']);
    const editor = user('editor', DatabasePrivilege.READ_WRITE, ['aurora_app'], ['app']);
    const err = await reconcileError(masterConn, [analyst]);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toContain('"app"."ledger" (owner "migrator")');
    expect(err.message).toMatch(/GRANT <owner> TO <master>.*Nothing was changed/);
    expect(await roleExists('analyst')).toBe(false);

    // SELECT WITH GRANT OPTION is enough for READ_ONLY, not for READ_WRITE.
    await pg.withClient('aurora_app', (c) => c.query('GRANT SELECT ON app.ledger TO aurora_master WITH GRANT OPTION'));
    await reconcileUsers(masterConn, [analyst]);
    await as(analyst, 'aurora_app', (c) => c.query('SELECT * FROM app.ledger'));
    expect((await reconcileError(masterConn, [editor])).message).toContain('"ledger"');

    // Membership in the owner covers everything.
    await pg.withClient('postgres', (c) => c.query('GRANT migrator TO aurora_master'));
    await reconcileUsers(masterConn, [analyst, editor]);
    await as(editor, 'aurora_app', (c) => c.query('INSERT INTO app.ledger VALUES (1)'));
    expect(await sqlError(analyst, 'aurora_app', 'INSERT INTO app.ledger VALUES (2)')).toBe('42501');
  });
});

describe('scramSha256Verifier against the server', () => {
  test.each([
    ['ASCII with quotes', `Tr0ub4dor&3'"\\-${randomBytes(6).toString('hex')}`],
    ['non-ASCII that SASLprep changes (ligature, no-break space, combining accent)', `\ufb01\u00a0cafe\u0301-ü-${randomBytes(6).toString('hex')}`],
  ])('equals the verifier the server itself computes from the clear password: %s', async (_label, clear) => {
    usedPasswords.push(clear);
    const role = `oracle_${randomBytes(4).toString('hex')}`;
    const serverVerifier = await pg.withClient('postgres', async (c) => {
      // This one session sends a clear password on purpose (the server as the reference), so it logs nothing.
      await c.query("SET log_statement = 'none'");
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(clear)}`);
      return (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0].rolpassword as string;
    });
    const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(serverVerifier);
    expect(match).not.toBeNull();
    expect(scramSha256Verifier(clear, Buffer.from(match![2], 'base64'), Number(match![1]))).toBe(serverVerifier);
    // And a verifier of ours with its own salt lets a client log in with the clear password.
    await pg.withClient('postgres', (c) => c.query(`ALTER ROLE ${role} PASSWORD ${c.escapeLiteral(scramSha256Verifier(clear))}`));
    expect(await loginError({ username: role, password: clear }, 'postgres')).toBeUndefined();
    expect(await loginError({ username: role, password: `${clear}x` }, 'postgres')).toBe('28P01');
  });
});

describe('the server log', () => {
  test('holds every statement, with verifiers, and never a clear password used in this file', async () => {
    const log = pg.readLog();
    // Positive controls: statements are logged in full, literals included.
    await pg.withClient('postgres', (c) => c.query("SELECT 'log-control-marker'"));
    // Booleans throughout, so a failure does not print the log.
    expect(pg.readLog().includes("statement: SELECT 'log-control-marker'")).toBe(true);
    expect(/statement: CREATE ROLE "reader" WITH LOGIN INHERIT CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256\$4096:/.test(log)).toBe(true);
    expect(/statement: ALTER ROLE "writer" WITH LOGIN INHERIT NOCREATEROLE CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256\$4096:/.test(log)).toBe(true);
    expect(usedPasswords.length).toBeGreaterThan(20);
    for (const p of usedPasswords) {
      expect(log.includes(p)).toBe(false);
      // Also no distinctive fragment of it (the random tail), however the statement might quote it.
      expect(log.includes(p.slice(-12))).toBe(false);
    }
  });
});
