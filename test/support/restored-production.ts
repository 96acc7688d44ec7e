/*
 * A restored production cluster, in a test PostgreSQL (test/support/postgres.ts), built as Aurora builds it:
 *
 * - the Aurora stand-in: a NOLOGIN group role `rds_superuser`; the master user NOSUPERUSER CREATEROLE
 *   CREATEDB and a member of it. The test server's bootstrap superuser `postgres` plays `rdsadmin`. AWS
 *   documents that the master may grant and revoke rds_superuser; stock PostgreSQL 16+ allows that only with
 *   the ADMIN OPTION on it, so the stand-in's master holds its membership WITH ADMIN OPTION;
 * - production's roles, made by the master user as in production (since PostgreSQL 16 the creator holds the
 *   ADMIN OPTION on the roles it creates): a DBA login that is a member of rds_superuser, an application login
 *   that owns a schema with a table, a NOLOGIN group role, and `readOnlyUser`, which the pipeline's
 *   configuration makes a READ_ONLY user but which was powerful in production: CREATEROLE, CREATEDB,
 *   NOINHERIT, a connection limit, and a member of rds_superuser, the group role and the application role;
 * - the application database, owned by the master, with `public.accounts` (one row).
 *
 * Every password is set as a SCRAM-SHA-256 verifier, so the server's statement log never holds one.
 */
import { randomBytes } from 'node:crypto';
import { escapeIdentifier, escapeLiteral, type Client } from 'pg';
import type { TestPostgres } from './postgres';
import { scramSha256Verifier } from '../../lambda-src/lib/postgres';

/** Aurora's group role of administrators. */
export const RDS_SUPERUSER = 'rds_superuser';
/** A production DBA: LOGIN, a member of rds_superuser. */
export const PROD_DBA = 'prod_dba';
/** The production application's login: owns {@link PROD_SCHEMA} and its table. */
export const PROD_APP = 'prod_app';
/** A NOLOGIN group role of production. */
export const PROD_GROUP = 'prod_readers';
/** The schema {@link PROD_APP} owns, with the table {@link PROD_TABLE}. */
export const PROD_SCHEMA = 'billing';
/** The table in {@link PROD_SCHEMA}, owned by {@link PROD_APP}. */
export const PROD_TABLE = 'invoices';
/** The table in `public` of the application database, owned by the master user. */
export const APP_TABLE = 'accounts';
/** The connection limit {@link RestoredProductionOptions.readOnlyUser} had in production. */
export const PROD_CONNECTION_LIMIT = 3;

/** What to build. */
export interface RestoredProductionOptions {
  /** The master user. */
  readonly masterUsername: string;
  /** Its password (the source's, as restored). */
  readonly masterPassword: string;
  /** The application database, owned by the master. */
  readonly database: string;
  /** The production role the configuration makes a READ_ONLY user. */
  readonly readOnlyUser: string;
}

/** A login role and its production password. */
export interface ProductionLogin {
  readonly username: string;
  readonly password: string;
}

/** What was built. */
export interface RestoredProduction {
  /** Every production login but the master, with its production password: {@link PROD_DBA}, {@link PROD_APP}, the read-only user. */
  readonly logins: ProductionLogin[];
  /** Every production password (for secret scans). */
  readonly passwords: string[];
}

/**
 * Drops every database and role of `pg` but the bootstrap ones, then builds the restored production cluster
 * described at the top of this file.
 */
export async function seedRestoredProduction(pg: TestPostgres, options: RestoredProductionOptions): Promise<RestoredProduction> {
  const { masterUsername, masterPassword, database, readOnlyUser } = options;
  const id = escapeIdentifier;
  const verifier = (password: string) => escapeLiteral(scramSha256Verifier(password));
  const password = (label: string) => `${label}-${randomBytes(12).toString('base64url')}`;
  const logins: ProductionLogin[] = [PROD_DBA, PROD_APP, readOnlyUser].map((username) => ({ username, password: password(`prod-${username}`) }));
  const pw = (username: string) => verifier(logins.find((l) => l.username === username)!.password);

  // As the bootstrap superuser (rdsadmin on Aurora): a clean server, then rds_superuser and the master.
  await pg.withClient('postgres', async (c) => {
    const dbs = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'");
    for (const { datname } of dbs.rows) await c.query(`DROP DATABASE ${id(datname)} WITH (FORCE)`);
    const roles = (await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user")).rows
      .map((r) => id(r.rolname));
    if (roles.length > 0) {
      await c.query(`DROP OWNED BY ${roles.join(', ')}`);
      await c.query(`DROP ROLE ${roles.join(', ')}`);
    }
    await c.query(`CREATE ROLE ${id(RDS_SUPERUSER)} NOLOGIN`);
    await c.query(`CREATE ROLE ${id(masterUsername)} LOGIN NOSUPERUSER CREATEROLE CREATEDB PASSWORD ${verifier(masterPassword)}`);
    await c.query(`GRANT ${id(RDS_SUPERUSER)} TO ${id(masterUsername)} WITH ADMIN OPTION`);
  });

  // As the master user, as in production.
  await as(pg, 'postgres', masterUsername, masterPassword, async (c) => {
    await c.query(`CREATE DATABASE ${id(database)}`);
    await c.query(`CREATE ROLE ${id(PROD_GROUP)} NOLOGIN`);
    await c.query(`CREATE ROLE ${id(PROD_DBA)} LOGIN CREATEROLE CREATEDB PASSWORD ${pw(PROD_DBA)}`);
    await c.query(`GRANT ${id(RDS_SUPERUSER)} TO ${id(PROD_DBA)}`);
    await c.query(`CREATE ROLE ${id(PROD_APP)} LOGIN PASSWORD ${pw(PROD_APP)}`);
    await c.query(`GRANT ${id(PROD_GROUP)} TO ${id(PROD_APP)}`);
    await c.query(`CREATE ROLE ${id(readOnlyUser)} LOGIN CREATEROLE CREATEDB NOINHERIT CONNECTION LIMIT ${PROD_CONNECTION_LIMIT} PASSWORD ${pw(readOnlyUser)}`);
    for (const role of [RDS_SUPERUSER, PROD_GROUP, PROD_APP]) await c.query(`GRANT ${id(role)} TO ${id(readOnlyUser)}`);
  });
  await as(pg, database, masterUsername, masterPassword, async (c) => {
    await c.query(`CREATE TABLE public.${id(APP_TABLE)} (id serial PRIMARY KEY, name text NOT NULL)`);
    await c.query(`INSERT INTO public.${id(APP_TABLE)} (name) VALUES ('restored from the source')`);
    await c.query(`GRANT CREATE ON DATABASE ${id(database)} TO ${id(PROD_APP)}`);
  });
  const app = logins.find((l) => l.username === PROD_APP)!;
  await as(pg, database, app.username, app.password, async (c) => {
    await c.query(`CREATE SCHEMA ${id(PROD_SCHEMA)}`);
    await c.query(`CREATE TABLE ${id(PROD_SCHEMA)}.${id(PROD_TABLE)} (id serial PRIMARY KEY, amount int NOT NULL)`);
    await c.query(`INSERT INTO ${id(PROD_SCHEMA)}.${id(PROD_TABLE)} (amount) VALUES (42)`);
    await c.query(`GRANT USAGE ON SCHEMA ${id(PROD_SCHEMA)} TO ${id(PROD_GROUP)}`);
    await c.query(`GRANT SELECT ON ${id(PROD_SCHEMA)}.${id(PROD_TABLE)} TO ${id(PROD_GROUP)}`);
  });
  return { logins, passwords: logins.map((l) => l.password) };
}

async function as(pg: TestPostgres, database: string, user: string, password: string, fn: (c: Client) => Promise<void>): Promise<void> {
  const client = await pg.connect(database, user, password);
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** `ok` when `user` logs in with `password`, else the SQLSTATE of the refusal (`28P01`: wrong password). */
export async function loginOutcome(pg: TestPostgres, user: string, password: string, database = 'postgres'): Promise<string> {
  try {
    await (await pg.connect(database, user, password)).end();
    return 'ok';
  } catch (e) {
    return String((e as { code?: string }).code ?? (e as Error).message);
  }
}

/** A role's attributes, as pg_roles reports them (all but the password). */
export interface RoleAttributes {
  readonly rolsuper: boolean;
  readonly rolinherit: boolean;
  readonly rolcreaterole: boolean;
  readonly rolcreatedb: boolean;
  readonly rolcanlogin: boolean;
  readonly rolreplication: boolean;
  readonly rolbypassrls: boolean;
  readonly rolconnlimit: number;
}

/** Every role but PostgreSQL's own, with its attributes and whether it has a password, by name. */
export async function rolesSnapshot(pg: TestPostgres): Promise<Record<string, RoleAttributes & { hasPassword: boolean }>> {
  return pg.withClient('postgres', async (c) => Object.fromEntries((await c.query(`
    SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit,
           rolpassword IS NOT NULL AS "hasPassword"
      FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY rolname`)).rows.map(({ rolname, ...rest }) => [rolname, rest])));
}

/** Every role membership but those among PostgreSQL's own roles, as `<role> > <member> (by <grantor>)`. */
export async function membershipsSnapshot(pg: TestPostgres): Promise<string[]> {
  return pg.withClient('postgres', async (c) => (await c.query(`
    SELECT r.rolname || ' > ' || m.rolname || ' (by ' || g.rolname || ')' AS m
      FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.grantor
     WHERE m.rolname !~ '^pg_' ORDER BY 1`)).rows.map((r: { m: string }) => r.m));
}
