/*
 * Credentials on a restored copy of production, against a real PostgreSQL (TLS, SCRAM, log_statement=all):
 * the master user is an Aurora-like non-superuser (CREATEROLE CREATEDB, a member of rds_superuser), and the
 * server holds what a production snapshot holds (test/support/restored-production.ts).
 */
import { randomBytes } from 'crypto';
import { Client } from 'pg';
import { DbConnection, reconcileUsers, ResolvedDbUser } from '../../lambda-src/lib/postgres';
import { DatabasePrivilege, UnmanagedLogins } from '../../src/contracts';
import { usePostgres, type TestPostgres } from '../support/postgres';
import {
  APP_TABLE, loginOutcome, membershipsSnapshot, PROD_APP, PROD_CONNECTION_LIMIT, PROD_DBA, PROD_GROUP, PROD_SCHEMA, PROD_TABLE,
  RDS_SUPERUSER, rolesSnapshot, seedRestoredProduction, type RestoredProduction,
} from '../support/restored-production';

jest.setTimeout(600_000);

const MASTER = 'clusteradmin';
const DB = 'app';
const READ_ONLY_USER = 'reporting';
const { DISABLE, KEEP } = UnmanagedLogins;

let pg: TestPostgres;
let conn: DbConnection;
let production: RestoredProduction;
/** Every clear password of this file: none may show up in the server's log. */
const usedPasswords: string[] = [];

function secret(label: string): string {
  const p = `${label}-'"\\;ü-${randomBytes(9).toString('base64url')}`;
  usedPasswords.push(p);
  return p;
}

const reporting: ResolvedDbUser = {
  username: READ_ONLY_USER, password: secret('reporting'), privilege: DatabasePrivilege.READ_ONLY, databases: [DB], schemas: ['public'], connectionLimit: 5,
};

async function restoreProduction(): Promise<void> {
  production = await seedRestoredProduction(pg, {
    masterUsername: MASTER, masterPassword: conn.password, database: DB, readOnlyUser: READ_ONLY_USER,
  });
  usedPasswords.push(...production.passwords);
}

function productionPassword(username: string): string {
  return production.logins.find((l) => l.username === username)!.password;
}

async function as<T>(user: string, password: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await pg.connect(DB, user, password);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** `ok`, or the SQLSTATE the statement fails with (in a transaction rolled back after). */
async function outcome(user: string, password: string, sql: string): Promise<string> {
  return as(user, password, async (c) => {
    await c.query('BEGIN');
    try {
      await c.query(sql);
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    } finally {
      await c.query('ROLLBACK');
    }
  });
}

async function reconcileError(users: ResolvedDbUser[], unmanagedLogins: UnmanagedLogins): Promise<Error> {
  const err = await reconcileUsers(conn, users, { unmanagedLogins }).then(() => undefined, (e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  for (const p of usedPasswords) expect(err!.message.includes(p)).toBe(false);
  expect(err!.message.includes('SCRAM-SHA-256$')).toBe(false);
  return err!;
}

usePostgres(async (server) => {
  pg = server;
  usedPasswords.push(pg.superPassword);
  conn = { host: pg.host, port: pg.port, user: MASTER, password: secret('master') };
});

describe('the restored-production fixture (the stand-in for Aurora)', () => {
  beforeAll(restoreProduction);

  test('the master is NOSUPERUSER CREATEROLE CREATEDB in rds_superuser, and every production password logs in', async () => {
    const roles = await rolesSnapshot(pg);
    expect(roles[MASTER]).toMatchObject({ rolsuper: false, rolcreaterole: true, rolcreatedb: true, rolcanlogin: true });
    expect(roles[RDS_SUPERUSER]).toMatchObject({ rolsuper: false, rolcanlogin: false });
    expect(roles[READ_ONLY_USER]).toMatchObject({ rolcreaterole: true, rolcreatedb: true, rolinherit: false, rolconnlimit: PROD_CONNECTION_LIMIT });
    const memberships = await membershipsSnapshot(pg);
    expect(memberships).toEqual(expect.arrayContaining([
      `${RDS_SUPERUSER} > ${MASTER} (by postgres)`, `${RDS_SUPERUSER} > ${PROD_DBA} (by ${MASTER})`,
      `${RDS_SUPERUSER} > ${READ_ONLY_USER} (by ${MASTER})`, `${PROD_APP} > ${READ_ONLY_USER} (by ${MASTER})`, `${PROD_GROUP} > ${PROD_APP} (by ${MASTER})`,
    ]));
    for (const login of production.logins) expect(await loginOutcome(pg, login.username, login.password)).toBe('ok');
    // In production, the read-only user could act as the application and write its table.
    expect(await outcome(READ_ONLY_USER, productionPassword(READ_ONLY_USER), `SET ROLE ${PROD_APP}; INSERT INTO ${PROD_SCHEMA}.${PROD_TABLE} (amount) VALUES (1)`)).toBe('ok');
  });
});

describe('unmanagedLogins DISABLE (the default)', () => {
  let result: Awaited<ReturnType<typeof reconcileUsers>>;
  beforeAll(async () => {
    await restoreProduction();
    result = await reconcileUsers(conn, [reporting], { unmanagedLogins: DISABLE });
  });

  test('disables every unmanaged production login and reports them by name; revokes the configured user\'s memberships', () => {
    expect(result).toEqual({
      created: [],
      updated: [READ_ONLY_USER],
      databases: [DB],
      disabledLogins: [PROD_APP, PROD_DBA],
      revokedMemberships: [`${PROD_APP} from ${READ_ONLY_USER}`, `${PROD_GROUP} from ${READ_ONLY_USER}`, `${RDS_SUPERUSER} from ${READ_ONLY_USER}`],
    });
  });

  test('no production password logs in any more; the master user logs in with the target\'s password', async () => {
    for (const login of production.logins) expect([login.username, await loginOutcome(pg, login.username, login.password)]).toEqual([login.username, '28P01']);
    expect(await loginOutcome(pg, MASTER, conn.password)).toBe('ok');
    const roles = await rolesSnapshot(pg);
    for (const role of [PROD_APP, PROD_DBA]) expect(roles[role]).toMatchObject({ rolcanlogin: false, hasPassword: false });
  });

  test('nothing is dropped: the group role, the memberships of the disabled roles and their objects are still there', async () => {
    const roles = await rolesSnapshot(pg);
    expect(Object.keys(roles)).toEqual(expect.arrayContaining([PROD_APP, PROD_DBA, PROD_GROUP, RDS_SUPERUSER, READ_ONLY_USER]));
    expect(await membershipsSnapshot(pg)).toEqual(expect.arrayContaining([`${PROD_GROUP} > ${PROD_APP} (by ${MASTER})`, `${RDS_SUPERUSER} > ${PROD_DBA} (by ${MASTER})`]));
    const owner = await pg.withClient(DB, async (c) => (await c.query(
      `SELECT pg_get_userbyid(c.relowner) AS owner, (SELECT count(*)::int FROM ${PROD_SCHEMA}.${PROD_TABLE}) AS n
         FROM pg_class c WHERE c.oid = '${PROD_SCHEMA}.${PROD_TABLE}'::regclass`)).rows[0]);
    expect(owner).toEqual({ owner: PROD_APP, n: 1 });
  });

  test('the read-only user has exactly its configuration: attributes, no membership, read access only', async () => {
    expect((await rolesSnapshot(pg))[READ_ONLY_USER]).toEqual({
      rolsuper: false,
      rolinherit: true,
      rolcreaterole: false,
      rolcreatedb: false,
      rolcanlogin: true,
      rolreplication: false,
      rolbypassrls: false,
      rolconnlimit: 5,
      hasPassword: true,
    });
    expect((await membershipsSnapshot(pg)).filter((m) => m.includes(`> ${READ_ONLY_USER} `))).toEqual([]);
    const pw = reporting.password;
    expect(await outcome(READ_ONLY_USER, pw, `SELECT count(*) FROM public.${APP_TABLE}`)).toBe('ok');
    expect(await outcome(READ_ONLY_USER, pw, `INSERT INTO public.${APP_TABLE} (name) VALUES ('x')`)).toBe('42501');
    expect(await outcome(READ_ONLY_USER, pw, 'CREATE TABLE public.mine (x int)')).toBe('42501');
    expect(await outcome(READ_ONLY_USER, pw, `SET ROLE ${PROD_APP}`)).toBe('42501');
    expect(await outcome(READ_ONLY_USER, pw, `SELECT * FROM ${PROD_SCHEMA}.${PROD_TABLE}`)).toBe('42501');
    expect(await outcome(READ_ONLY_USER, pw, 'CREATE ROLE sneaky LOGIN')).toBe('42501');
    expect(await outcome(READ_ONLY_USER, pw, `GRANT ${RDS_SUPERUSER} TO ${READ_ONLY_USER}`)).toBe('42501');
  });

  test('a second run converges: nothing more to disable or revoke, the same roles, memberships and logins', async () => {
    const roles = await rolesSnapshot(pg);
    const memberships = await membershipsSnapshot(pg);
    expect(await reconcileUsers(conn, [reporting], { unmanagedLogins: DISABLE })).toEqual({
      created: [], updated: [READ_ONLY_USER], databases: [DB], disabledLogins: [], revokedMemberships: [],
    });
    expect(await rolesSnapshot(pg)).toEqual(roles);
    expect(await membershipsSnapshot(pg)).toEqual(memberships);
    expect(await loginOutcome(pg, READ_ONLY_USER, reporting.password)).toBe('ok');
  });

  test('with no configured user, DISABLE still disables the production logins', async () => {
    await restoreProduction();
    const out = await reconcileUsers(conn, [], { unmanagedLogins: DISABLE });
    expect(out).toEqual({ created: [], updated: [], databases: [], disabledLogins: [PROD_APP, PROD_DBA, READ_ONLY_USER], revokedMemberships: [] });
    for (const login of production.logins) expect(await loginOutcome(pg, login.username, login.password)).toBe('28P01');
  });
});

describe('unmanagedLogins KEEP', () => {
  test('leaves the production roles as they were; the configured user still converges', async () => {
    await restoreProduction();
    const roles = await rolesSnapshot(pg);
    const memberships = await membershipsSnapshot(pg);
    const result = await reconcileUsers(conn, [reporting], { unmanagedLogins: KEEP });
    expect(result.disabledLogins).toEqual([]);
    expect(result.revokedMemberships).toHaveLength(3);
    const after = await rolesSnapshot(pg);
    const others = (r: typeof roles) => Object.fromEntries(Object.entries(r).filter(([name]) => name !== READ_ONLY_USER));
    expect(others(after)).toEqual(others(roles));
    expect((await membershipsSnapshot(pg))).toEqual(memberships.filter((m) => !m.includes(`> ${READ_ONLY_USER} `)));
    for (const login of production.logins.filter((l) => l.username !== READ_ONLY_USER)) {
      expect(await loginOutcome(pg, login.username, login.password)).toBe('ok');
    }
    expect(after[READ_ONLY_USER]).toMatchObject({ rolcreaterole: false, rolcreatedb: false, rolinherit: true, rolconnlimit: 5 });
  });
});

describe('a configured name that is a production role with objects', () => {
  test('is updated, not dropped: it keeps its objects, gets its configured password and loses the production one', async () => {
    await restoreProduction();
    const app: ResolvedDbUser = { username: PROD_APP, password: secret('app'), privilege: DatabasePrivilege.READ_WRITE, databases: [DB], schemas: ['public'] };
    const result = await reconcileUsers(conn, [app], { unmanagedLogins: DISABLE });
    expect(result).toMatchObject({ created: [], updated: [PROD_APP], revokedMemberships: [`${PROD_GROUP} from ${PROD_APP}`] });
    expect(result.disabledLogins).toEqual([PROD_DBA, READ_ONLY_USER]);
    expect(await loginOutcome(pg, PROD_APP, productionPassword(PROD_APP))).toBe('28P01');
    expect(await outcome(PROD_APP, app.password, `INSERT INTO ${PROD_SCHEMA}.${PROD_TABLE} (amount) VALUES (7)`)).toBe('ok'); // its own table
    expect(await outcome(PROD_APP, app.password, `INSERT INTO public.${APP_TABLE} (name) VALUES ('rw')`)).toBe('ok');
  });
});

describe('what a non-superuser master may not do, on PostgreSQL 16 and later', () => {
  beforeEach(restoreProduction);

  test('a login role the master did not create and holds no ADMIN OPTION on: refused, named, with what to do, and nothing changed', async () => {
    await pg.withClient('postgres', (c) => c.query('CREATE ROLE vendor_login LOGIN')); // made by rdsadmin's stand-in
    const before = await rolesSnapshot(pg);
    const err = await reconcileError([reporting], DISABLE);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toMatch(/disabling the unmanaged login role "vendor_login".*42501/);
    expect(err.message).toMatch(/ADMIN OPTION.*rds_superuser.*GRANT "vendor_login" TO "clusteradmin" WITH ADMIN OPTION.*unmanagedLogins to KEEP.*Nothing was changed/);
    expect(await rolesSnapshot(pg)).toEqual(before);
    // Made manageable, it is disabled like the others.
    await pg.withClient('postgres', (c) => c.query(`GRANT vendor_login TO ${MASTER} WITH ADMIN OPTION`));
    expect((await reconcileUsers(conn, [reporting], { unmanagedLogins: DISABLE })).disabledLogins).toEqual([PROD_APP, PROD_DBA, 'vendor_login']);
  });

  test('a membership granted by a role the master does not have the privileges of: refused, naming the grantor', async () => {
    // Another admin of production made a role and granted it.
    await as(PROD_DBA, productionPassword(PROD_DBA), (c) => c.query(`CREATE ROLE auditors NOLOGIN; GRANT auditors TO ${READ_ONLY_USER}`));
    const before = await membershipsSnapshot(pg);
    const err = await reconcileError([reporting], KEEP);
    expect(err.name).toBe('DatabaseSetupFailed');
    expect(err.message).toMatch(/revoking the membership of role "reporting" in "auditors" \(granted by "prod_dba"\).*42501/);
    expect(err.message).toMatch(/Revoke the membership in the source cluster \(REVOKE "auditors" FROM "reporting", as "prod_dba"\).*Nothing was changed/);
    expect(await membershipsSnapshot(pg)).toEqual(before);
  });

  test('a configured user that created roles in production holds the ADMIN OPTION on them, recorded as granted by rdsadmin: refused, saying why', async () => {
    await as(READ_ONLY_USER, productionPassword(READ_ONLY_USER), (c) => c.query('CREATE ROLE reporting_helper NOLOGIN')); // it had CREATEROLE
    const err = await reconcileError([reporting], KEEP);
    expect(err.message).toMatch(/"reporting" in "reporting_helper" \(granted by "postgres"\).*bootstrap superuser \(rdsadmin on Aurora\).*Configure a user name that is not this role/);
    expect(await membershipsSnapshot(pg)).toContain(`${RDS_SUPERUSER} > ${READ_ONLY_USER} (by ${MASTER})`);
  });

  test('a configured user that passed a membership on (ADMIN OPTION): refused with the dependent grants to revoke', async () => {
    await as(MASTER, conn.password, (c) => c.query(`GRANT ${PROD_GROUP} TO ${READ_ONLY_USER} WITH ADMIN OPTION`));
    await as(READ_ONLY_USER, productionPassword(READ_ONLY_USER), (c) => c.query(`GRANT ${PROD_GROUP} TO ${PROD_DBA}`));
    const err = await reconcileError([reporting], DISABLE);
    expect(err.message).toMatch(/"reporting" in "prod_readers".*SQLSTATE 2BP01.*granted its membership in "prod_readers" on to other roles.*GRANTED BY "reporting".*Nothing was changed/);
    expect(await loginOutcome(pg, PROD_DBA, productionPassword(PROD_DBA))).toBe('ok');
  });

  test('REPLICATION on a configured role: only a role that has it may remove it, and the error says so', async () => {
    await pg.withClient('postgres', (c) => c.query(`ALTER ROLE ${READ_ONLY_USER} REPLICATION`));
    const err = await reconcileError([reporting], KEEP);
    expect(err.message).toMatch(/removing REPLICATION from role "reporting".*Only a role that has REPLICATION itself may remove it.*Remove REPLICATION from "reporting" in the source cluster/);
    expect((await rolesSnapshot(pg))[READ_ONLY_USER]).toMatchObject({ rolreplication: true, rolcreaterole: true });
  });

  test('a superuser among the configured names is refused before any change', async () => {
    await pg.withClient('postgres', (c) => c.query(`ALTER ROLE ${READ_ONLY_USER} SUPERUSER`));
    const err = await reconcileError([reporting], DISABLE);
    expect(err.message).toMatch(/"reporting" is a superuser/);
    expect(await loginOutcome(pg, PROD_DBA, productionPassword(PROD_DBA))).toBe('ok');
  });
});

describe('the server log', () => {
  test('holds the statements, with verifiers, and never a clear password', async () => {
    const log = pg.readLog();
    // Positive controls, as booleans so a failure does not print the log.
    expect(log.includes(`statement: ALTER ROLE "${PROD_DBA}" WITH NOLOGIN PASSWORD NULL`)).toBe(true);
    expect(/statement: ALTER ROLE "reporting" WITH LOGIN INHERIT NOCREATEROLE NOCREATEDB CONNECTION LIMIT 5 PASSWORD 'SCRAM-SHA-256\$4096:/.test(log)).toBe(true);
    expect(log.includes(`statement: REVOKE "${RDS_SUPERUSER}" FROM "reporting"`)).toBe(true);
    expect(usedPasswords.length).toBeGreaterThan(10);
    for (const p of usedPasswords) {
      expect(log.includes(p)).toBe(false);
      expect(log.includes(p.slice(-12))).toBe(false);
    }
  });
});
