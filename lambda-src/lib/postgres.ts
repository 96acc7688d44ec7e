/*
 * Reconciles the database roles of the restored Aurora PostgreSQL cluster: creates or updates each
 * configured role to exactly its configuration (attributes, no memberships, password, privilege level on its
 * databases and schemas), and disables the other login roles restored from production (UnmanagedLogins).
 *
 * Passwords never reach the server in clear: the client computes a SCRAM-SHA-256 verifier and sends that,
 * so even a server logging every statement cannot log a password. Every name is validated before the
 * first connection and quoted in every statement anyway.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { isIP } from 'net';
import type { ConnectionOptions } from 'tls';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { errors, PipelineError } from './errors';
import { DatabasePrivilege, type DbUsersResult, UnmanagedLogins } from '../../src/contracts';
import { NAME_RULE, objectNameProblem, RESERVED_ROLE_PREFIXES, roleNameProblem } from '../../src/db-names';

/** A database role to reconcile, with its password read from its secret. */
export interface ResolvedDbUser {
  /** Role name, checked with {@link validateRoleName}. */
  username: string;
  /** The role's password (never logged, never sent to the server in clear). */
  password: string;
  /** Privilege level on every database and schema listed. */
  privilege: DatabasePrivilege;
  /** Databases to grant on. */
  databases: string[];
  /** Schemas to grant on, in each of the databases. */
  schemas: string[];
  /** `CONNECTION LIMIT`; absent = no limit (-1). */
  connectionLimit?: number;
}

/** How to reconcile. */
export interface ReconcileOptions {
  /** What to do with the login roles that are neither configured, nor the master, nor reserved. */
  unmanagedLogins: UnmanagedLogins;
}

/** Where and as whom to connect: the restored cluster's writer endpoint and its master user. */
export interface DbConnection {
  /** Host name of the writer endpoint. */
  host: string;
  /** Port. */
  port: number;
  /** Master user name. */
  user: string;
  /** Master password. */
  password: string;
  /** Connection timeout in milliseconds (default 10 s). */
  connectTimeoutMillis?: number;
  /** Server-side `statement_timeout` and `lock_timeout` of every statement, in milliseconds (default 60 s). */
  statementTimeoutMillis?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
const SCRAM_ITERATIONS = 4096;

/** A name quoted for a message, cut at 80 characters. */
export function describe(name: unknown): string {
  const text = typeof name === 'string' ? name : String(name);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Throws `InvalidRoleName` unless `name` is a plain role name: lower-case letters, digits and `_`,
 * starting with a letter or `_`, at most 63 bytes, not starting with `pg_` or `rds`, and not a name
 * PostgreSQL reserves (`public`, `current_user`, ...) or the usual superuser `postgres`.
 */
export function validateRoleName(name: string): void {
  const problem = roleNameProblem(name);
  if (problem) {
    throw errors.invalidRoleName(`The database role name ${describe(name)} ${problem}. Use ${NAME_RULE}, not starting with pg_ or rds and not a reserved name such as postgres or public; fix the user's username (or the secret's username key) in the pipeline's databaseUsers.`);
  }
}

function validateObjectName(kind: 'database' | 'schema', name: string, user: string): void {
  const problem = objectNameProblem(kind, name);
  if (problem) {
    throw errors.invalidInput(`The ${kind} name ${describe(name)} of database user ${describe(user)} ${problem}. Use ${NAME_RULE}, naming one of your own ${kind}s, in the user's ${kind}s of the pipeline's databaseUsers.`);
  }
}

/** RFC 4013 SASLprep, as PostgreSQL and node-postgres apply it: ASCII passes unchanged, else map and NFKC-normalize. */
function saslprep(password: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const nonAsciiSpace = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
  // eslint-disable-next-line no-misleading-character-class
  const mappedToNothing = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
  return password.replace(nonAsciiSpace, ' ').replace(mappedToNothing, '').normalize('NFKC');
}

/**
 * The SCRAM-SHA-256 verifier of `password` (RFC 5802, RFC 7677) in PostgreSQL's `rolpassword` format:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64). The server stores it as given,
 * so the clear password never travels to it.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations: number = SCRAM_ITERATIONS): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw errors.secretInvalid('A database user password is empty. Put a non-empty password in the user\'s secret.');
  }
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`SCRAM iterations must be a positive integer, got ${iterations}`);
  const saltedPassword = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', saltedPassword).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', saltedPassword).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * TLS options for a connection to `host`: the certificate must verify (`rejectUnauthorized`) and match
 * the host. When `NODE_EXTRA_CA_CERTS` is set (on Lambda `/var/runtime/ca-cert.pem`, which holds the RDS
 * certificate authorities), that file is read now and passed as `ca`.
 */
export function tlsOptions(host: string): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: true, minVersion: 'TLSv1.2' };
  // SNI may not carry an IP address (RFC 6066); tls then checks the certificate against `host`.
  if (isIP(host) === 0) options.servername = host;
  else options.host = host;
  const caFile = process.env.NODE_EXTRA_CA_CERTS;
  if (caFile) {
    try {
      options.ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw errors.databaseSetupFailed(`Cannot read the CA bundle NODE_EXTRA_CA_CERTS=${caFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}). Point NODE_EXTRA_CA_CERTS at a readable PEM file holding the RDS certificate authorities, or unset it to use Node's default trust store.`);
    }
  }
  return options;
}

/** Privilege names as `aclexplode` reports them, per object kind and level. `undefined` = all. */
interface PrivilegeSet {
  database: string[];
  schema: string[];
  table?: string[];
  sequence?: string[];
}

const PRIVILEGES: Record<DatabasePrivilege, PrivilegeSet> = {
  [DatabasePrivilege.READ_ONLY]: { database: ['CONNECT'], schema: ['USAGE'], table: ['SELECT'], sequence: ['SELECT'] },
  [DatabasePrivilege.READ_WRITE]: {
    database: ['CONNECT'],
    schema: ['USAGE'],
    table: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'],
    sequence: ['USAGE', 'SELECT', 'UPDATE'],
  },
  [DatabasePrivilege.OWNER]: { database: ['CONNECT', 'CREATE', 'TEMPORARY'], schema: ['USAGE', 'CREATE'] },
};

function privilegeList(privileges: string[] | undefined): string {
  return privileges ? privileges.join(', ') : 'ALL PRIVILEGES';
}

/** A statement and what it does, for error messages (which never include the statement: it may hold a verifier). */
interface Step {
  sql: string;
  what: string;
  /** What to do when it fails with one of these SQLSTATEs (42501 permission denied, 2BP01 dependent grants). */
  hints?: Partial<Record<'42501' | '2BP01', string>>;
}

/** Statements granting `user` its level on database `db` and its schemas. */
function grantSteps(db: string, user: ResolvedDbUser): Step[] {
  const role = escapeIdentifier(user.username);
  const set = PRIVILEGES[user.privilege];
  const steps: Step[] = [{
    sql: `GRANT ${set.database.join(', ')} ON DATABASE ${escapeIdentifier(db)} TO ${role}`,
    what: `granting ${set.database.join(', ')} on database ${describe(db)} to role ${describe(user.username)}`,
  }];
  for (const schema of user.schemas) {
    const s = escapeIdentifier(schema);
    const where = `in schema ${describe(schema)} of database ${describe(db)} to role ${describe(user.username)}`;
    steps.push(
      { sql: `GRANT ${set.schema.join(', ')} ON SCHEMA ${s} TO ${role}`, what: `granting ${set.schema.join(', ')} on the schema ${where}` },
      { sql: `GRANT ${privilegeList(set.table)} ON ALL TABLES IN SCHEMA ${s} TO ${role}`, what: `granting ${privilegeList(set.table)} on the tables ${where}` },
      { sql: `GRANT ${privilegeList(set.sequence)} ON ALL SEQUENCES IN SCHEMA ${s} TO ${role}`, what: `granting ${privilegeList(set.sequence)} on the sequences ${where}` },
      // Without FOR ROLE this covers objects the connected (master) user creates later.
      { sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${privilegeList(set.table)} ON TABLES TO ${role}`, what: `setting default privileges on future tables ${where}` },
      { sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${privilegeList(set.sequence)} ON SEQUENCES TO ${role}`, what: `setting default privileges on future sequences ${where}` },
    );
  }
  return steps;
}

/**
 * Privileges the roles hold in this database beyond their level (e.g. carried over from the source cluster
 * in the snapshot, or left by a former level), on the database, the configured schemas, their tables,
 * views and sequences, and the connected user's default privileges there. Objects a role owns are skipped.
 */
const HELD_PRIVILEGES_SQL = `
WITH r AS (SELECT oid, rolname FROM pg_roles WHERE rolname = ANY($1::text[])),
     n AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = ANY($2::text[]))
SELECT 'database' AS kind, NULL::text AS schema, d.datname::text AS name, r.rolname::text AS role, a.privilege_type AS privilege
  FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a JOIN r ON r.oid = a.grantee
 WHERE d.datname = current_database() AND d.datdba <> r.oid
UNION ALL
SELECT 'schema', n.nspname::text, n.nspname::text, r.rolname::text, a.privilege_type
  FROM n CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN r ON r.oid = a.grantee
 WHERE n.nspowner <> r.oid
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname::text, c.relname::text, r.rolname::text, a.privilege_type
  FROM pg_class c JOIN n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN r ON r.oid = a.grantee
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> r.oid
UNION ALL
SELECT CASE WHEN d.defaclobjtype = 'S' THEN 'default_sequence' ELSE 'default_table' END, n.nspname::text, NULL, r.rolname::text, a.privilege_type
  FROM pg_default_acl d JOIN n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a JOIN r ON r.oid = a.grantee
 WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND d.defaclobjtype IN ('r', 'S')
ORDER BY 1, 2, 3, 4, 5`;

interface HeldPrivilege {
  kind: 'database' | 'schema' | 'table' | 'sequence' | 'default_table' | 'default_sequence';
  schema: string | null;
  name: string | null;
  role: string;
  privilege: string;
}

/** REVOKE statements for the privileges the roles hold beyond their level. */
function revokeSteps(db: string, users: ResolvedDbUser[], held: HeldPrivilege[]): Step[] {
  const byRole = new Map(users.map((u) => [u.username, u]));
  const stale = new Map<string, { row: HeldPrivilege; privileges: string[] }>();
  for (const row of held) {
    const user = byRole.get(row.role);
    if (!user) continue;
    if (row.schema !== null && !user.schemas.includes(row.schema)) continue;
    const set = PRIVILEGES[user.privilege];
    const allowed = row.kind === 'database' ? set.database
      : row.kind === 'schema' ? set.schema
        : row.kind === 'table' || row.kind === 'default_table' ? set.table
          : set.sequence;
    if (allowed === undefined || allowed.includes(row.privilege)) continue;
    const key = JSON.stringify([row.kind, row.schema, row.name, row.role]);
    const entry = stale.get(key) ?? { row, privileges: [] };
    if (!entry.privileges.includes(row.privilege)) entry.privileges.push(row.privilege);
    stale.set(key, entry);
  }
  const steps: Step[] = [];
  for (const { row, privileges } of stale.values()) {
    const role = escapeIdentifier(row.role);
    const list = privileges.join(', ');
    const schema = row.schema === null ? '' : escapeIdentifier(row.schema);
    const of = row.schema === null ? '' : ` of schema ${describe(row.schema)}`;
    const what = `revoking ${list} (beyond ${byRole.get(row.role)!.privilege}) from role ${describe(row.role)}`;
    switch (row.kind) {
      case 'database':
        steps.push({ sql: `REVOKE ${list} ON DATABASE ${escapeIdentifier(db)} FROM ${role}`, what: `${what} on database ${describe(db)}` });
        break;
      case 'schema':
        steps.push({ sql: `REVOKE ${list} ON SCHEMA ${schema} FROM ${role}`, what: `${what} on schema ${describe(row.schema)} of database ${describe(db)}` });
        break;
      case 'table':
      case 'sequence':
        steps.push({
          sql: `REVOKE ${list} ON ${row.kind === 'table' ? 'TABLE' : 'SEQUENCE'} ${schema}.${escapeIdentifier(row.name!)} FROM ${role}`,
          what: `${what} on ${row.kind} ${describe(row.name)}${of} in database ${describe(db)}`,
        });
        break;
      default:
        steps.push({
          sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} REVOKE ${list} ON ${row.kind === 'default_table' ? 'TABLES' : 'SEQUENCES'} FROM ${role}`,
          what: `${what} in the default privileges${of} in database ${describe(db)}`,
        });
    }
  }
  return steps;
}

/** SQLSTATEs (and classes) a retry can fix: the server is starting, shutting down, overloaded, or contended. */
export const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '55P03', '57014', '40001', '40P01', '42710', '53300']);
export const TRANSIENT_SQLSTATE_CLASSES = ['08'];
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE']);
const TLS_ERROR_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/;

interface PgLikeError {
  code?: string;
  message?: string;
  severity?: string;
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/SCRAM-SHA-256\$[^\s'"]*/g, '[redacted verifier]');
}

/**
 * Turns a connection or SQL error into a named pipeline error whose message says what failed and what to
 * do. Passwords and verifiers are stripped from the server's text.
 */
export function mapDbError(err: unknown, what: string, conn: DbConnection, secrets: string[], hints: Step['hints'] = {}): PipelineError {
  if (err instanceof PipelineError) return err;
  const e = (err ?? {}) as PgLikeError;
  const code = typeof e.code === 'string' ? e.code : '';
  const detail = redact(e.message ?? String(err), secrets);
  const endpoint = `${conn.host}:${conn.port}`;
  const isSqlState = /^[0-9A-Z]{5}$/.test(code) && typeof e.severity === 'string';

  if (isSqlState) {
    if (code === '28P01') {
      return errors.databaseSetupFailed(`${what}: the master user ${describe(conn.user)} was refused with SQLSTATE 28P01 (wrong password) by ${endpoint}. The password in the master secret does not match the cluster's: check that check-restore-status reset the master password from the secret (masterPasswordReset) and that the secret was not rotated since.`);
    }
    if (code === '3D000') {
      return errors.databaseSetupFailed(`${what}: SQLSTATE 3D000, ${detail}. The database does not exist in the restored cluster: create it in the source cluster (it comes with the snapshot) or remove it from the user's databases.`);
    }
    if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) {
      return errors.databaseUnavailable(`${what}: the database at ${endpoint} is not ready or is busy (SQLSTATE ${code}: ${detail}). The step is retried; if it persists, check the cluster's status and logs in the RDS console.`);
    }
    const hint = hints[code as keyof typeof hints];
    if (hint) return errors.databaseSetupFailed(`${what}: SQLSTATE ${code}: ${detail}. ${hint} Nothing was changed.`);
    if (code === '42501') {
      return errors.databaseSetupFailed(`${what}: permission denied (SQLSTATE 42501: ${detail}). The master user ${describe(conn.user)} needs CREATEROLE and the right to grant on these objects (membership in rds_superuser, ownership of the objects or ADMIN OPTION on existing roles); fix the privileges in the source cluster or manage this role by hand.`);
    }
    return errors.databaseSetupFailed(`${what}: SQLSTATE ${code}: ${detail}. Fix the cause in the cluster or in the user configuration, then start the restore again.`);
  }
  if (NETWORK_ERROR_CODES.has(code) || /timeout expired|connection timeout|Connection terminated/i.test(detail)) {
    return errors.databaseUnavailable(`${what}: cannot reach the database at ${endpoint} (${code || detail}). The step is retried; if it persists, check that the cluster's security group admits the function's on port ${conn.port}, and that the cluster is available.`);
  }
  if (TLS_ERROR_CODE.test(code) || /certificate|self[- ]signed|SSL|TLS/i.test(detail)) {
    return errors.databaseSetupFailed(`${what}: the TLS connection to ${endpoint} failed (${code ? `${code}: ` : ''}${detail}). The server certificate must verify: set NODE_EXTRA_CA_CERTS to a bundle holding the RDS certificate authority of the cluster's region, and connect to the cluster's endpoint name.`);
  }
  return errors.databaseSetupFailed(`${what}: ${code ? `${code}: ` : ''}${detail}. Check the cluster and the user configuration, then start the restore again.`);
}

/**
 * A client (not yet connected) for `database` at `conn`: verified TLS ({@link tlsOptions}), connection timeout,
 * and `statement_timeout`/`lock_timeout` from `conn` on every statement.
 */
export function clientFor(conn: DbConnection, database: string): Client {
  const timeout = conn.statementTimeoutMillis ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  return new Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database,
    ssl: tlsOptions(conn.host),
    connectionTimeoutMillis: conn.connectTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: timeout,
    lock_timeout: timeout,
    idle_in_transaction_session_timeout: timeout * 2,
    application_name: 'aurora-restore-pipeline',
  });
}

/**
 * Relations in `schema` on which the connected user cannot grant what the users need: it neither is (or
 * inherits) their owner nor holds each needed privilege WITH GRANT OPTION. A non-superuser master user, as
 * on Aurora, is in that position for tables other roles created; GRANT ... ON ALL TABLES would then fail
 * (or, with some privilege held, silently grant nothing). `$2`/`$3` NULL = all privileges: owner only.
 */
const UNGRANTABLE_SQL = `
SELECT n.nspname::text AS schema, c.relname::text AS name, pg_get_userbyid(c.relowner)::text AS owner
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
   AND NOT pg_has_role(c.relowner, 'USAGE')
   AND NOT CASE WHEN c.relkind = 'S'
     THEN $3::text[] IS NOT NULL AND (SELECT coalesce(bool_and(has_sequence_privilege(c.oid, p || ' WITH GRANT OPTION')), true) FROM unnest($3::text[]) p)
     ELSE $2::text[] IS NOT NULL AND (SELECT coalesce(bool_and(has_table_privilege(c.oid, p || ' WITH GRANT OPTION')), true) FROM unnest($2::text[]) p)
   END
 ORDER BY c.relname
 LIMIT 11`;

type Query = <T>(db: OpenDatabase, what: string, sql: string, params: unknown[]) => Promise<T[]>;

/** Fails before any change when the master user cannot grant the configured privileges on some relation. */
async function checkGrantable(db: OpenDatabase, schemas: string[], query: Query, conn: DbConnection): Promise<void> {
  const blocked: Array<{ schema: string; name: string; owner: string }> = [];
  for (const schema of schemas) {
    const sets = db.users.filter((u) => u.schemas.includes(schema)).map((u) => PRIVILEGES[u.privilege]);
    const union = (pick: (set: PrivilegeSet) => string[] | undefined) =>
      (sets.some((set) => pick(set) === undefined) ? null : [...new Set(sets.flatMap((set) => pick(set)!))]);
    blocked.push(...await query<{ schema: string; name: string; owner: string }>(db, `checking that the master user can grant on the relations of schema ${describe(schema)}`,
      UNGRANTABLE_SQL, [schema, union((set) => set.table), union((set) => set.sequence)]));
  }
  if (blocked.length > 0) {
    const shown = blocked.slice(0, 10).map((r) => `${describe(r.schema)}.${describe(r.name)} (owner ${describe(r.owner)})`).join(', ');
    const owners = [...new Set(blocked.map((r) => r.owner))];
    throw errors.databaseSetupFailed(`In database ${describe(db.name)}, the master user ${describe(conn.user)} may not grant the configured privileges on ${shown}${blocked.length > 10 ? ' and more' : ''}: it neither owns them (nor inherits from their owner) nor holds those privileges WITH GRANT OPTION. In the source cluster, make the master user a member of ${owners.map(describe).join(', ')} (GRANT <owner> TO <master>), or grant it the privileges WITH GRANT OPTION, or remove the schema from those users' schemas. Nothing was changed.`);
  }
}

interface OpenDatabase {
  name: string;
  client: Client;
  users: ResolvedDbUser[];
}

/** The distinct databases of all users, in order of first mention; `postgres` when none is listed. */
function databasesOf(users: ResolvedDbUser[]): string[] {
  const dbs: string[] = [];
  for (const u of users) for (const db of u.databases) if (!dbs.includes(db)) dbs.push(db);
  return dbs;
}

function validateUsers(conn: DbConnection, users: ResolvedDbUser[]): void {
  if (!Array.isArray(users)) throw errors.invalidInput('The database users are not a list. Pass the resolved users as an array.');
  const seen = new Set<string>();
  for (const user of users) {
    validateRoleName(user.username);
    if (user.username === conn.user) {
      throw errors.invalidRoleName(`The database role ${describe(user.username)} is the master user. The pipeline does not manage the master user; choose another name for this database user.`);
    }
    if (seen.has(user.username)) {
      throw errors.invalidInput(`The database role ${describe(user.username)} is listed twice. List each role once in the pipeline's databaseUsers.`);
    }
    seen.add(user.username);
    if (!Object.values(DatabasePrivilege).includes(user.privilege)) {
      throw errors.invalidInput(`The privilege ${describe(user.privilege)} of database user ${describe(user.username)} is not one of ${Object.values(DatabasePrivilege).join(', ')}. Use one of those.`);
    }
    if (user.connectionLimit !== undefined && (!Number.isInteger(user.connectionLimit) || user.connectionLimit < 1)) {
      throw errors.invalidInput(`The connection limit ${describe(user.connectionLimit)} of database user ${describe(user.username)} is not a positive integer. Use a whole number of at least 1, or leave it out for no limit.`);
    }
    if (typeof user.password !== 'string' || user.password.length === 0) {
      throw errors.secretInvalid(`The password of database user ${describe(user.username)} is empty. Put a non-empty password in the user's secret.`);
    }
    if (!Array.isArray(user.databases) || !Array.isArray(user.schemas)) {
      throw errors.invalidInput(`The databases or schemas of database user ${describe(user.username)} are not lists. Give both as lists of names.`);
    }
    for (const db of user.databases) validateObjectName('database', db, user.username);
    for (const schema of user.schemas) validateObjectName('schema', schema, user.username);
  }
}

/** Attributes of an existing configured role that decide which statements converge it. */
interface ExistingRole {
  rolname: string;
  rolsuper: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
}

/** A membership of a configured role: `member` is a member of `role`, as granted by `grantor`. */
interface Membership {
  role: string;
  member: string;
  grantor: string;
  /** Recorded as granted by the bootstrap superuser: a superuser's grant, or the ADMIN OPTION a role gets on the roles it creates. */
  bootstrap: boolean;
}

const MEMBERSHIPS_SQL = `
SELECT r.rolname::text AS role, m.rolname::text AS member, g.rolname::text AS grantor, a.grantor = 10 AS bootstrap
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.grantor
 WHERE m.rolname = ANY($1::text[])
 ORDER BY 2, 1, 3`;

/**
 * Login roles that nobody configured: not the configured users, not the connected (master) user, not the
 * bootstrap superuser (OID 10: rdsadmin on Aurora) and not PostgreSQL's or Aurora's own (`pg_*`, `rds*`).
 */
const UNMANAGED_LOGINS_SQL = `
SELECT rolname::text FROM pg_roles
 WHERE rolcanlogin AND oid <> 10 AND rolname <> current_user AND NOT (rolname = ANY($1::text[]))
   AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) p WHERE starts_with(rolname::text, p))
 ORDER BY rolname`;

/** What to do when the master may not alter a role (PostgreSQL 16 and later need ADMIN OPTION on it). */
function adminOptionHint(master: string, role: string, alternative: string): string {
  return `Since PostgreSQL 16, the master user ${describe(master)} may change a role only with CREATEROLE and the ADMIN OPTION on it; `
    + 'it has that on the roles it created. On Aurora, its membership in rds_superuser is what lets it manage the other roles: check in the source cluster '
    + `that the master user is still a member of rds_superuser; elsewhere, GRANT ${describe(role)} TO ${describe(master)} WITH ADMIN OPTION in the source cluster; ${alternative}`;
}

/** The statements that make an existing configured role exactly what its configuration says. */
function convergeSteps(user: ResolvedDbUser, existing: ExistingRole, verifier: string, master: string): Step[] {
  const role = escapeIdentifier(user.username);
  const name = describe(user.username);
  const steps: Step[] = [];
  // Removing REPLICATION or BYPASSRLS takes a role that has it (PostgreSQL 16+): separate statements, so a refusal says which.
  for (const [attribute, has] of [['REPLICATION', existing.rolreplication], ['BYPASSRLS', existing.rolbypassrls]] as const) {
    if (!has) continue;
    steps.push({
      sql: `ALTER ROLE ${role} WITH NO${attribute}`,
      what: `removing ${attribute} from role ${name}`,
      hints: { 42501: `Only a role that has ${attribute} itself may remove it, and the master user ${describe(master)} does not (on Aurora it never does). Remove ${attribute} from ${name} in the source cluster, or configure a user name that is not this role.` },
    });
  }
  steps.push({
    sql: `ALTER ROLE ${role} WITH LOGIN INHERIT NOCREATEROLE${existing.rolcreatedb ? ' NOCREATEDB' : ''} CONNECTION LIMIT ${user.connectionLimit ?? -1} `
      + `PASSWORD ${escapeLiteral(verifier)} VALID UNTIL 'infinity'`,
    what: `updating role ${name} (LOGIN INHERIT NOCREATEROLE NOCREATEDB, connection limit, password)`,
    hints: { 42501: adminOptionHint(master, user.username, 'or configure a user name that is not an existing role.') },
  });
  return steps;
}

function revokeMembershipStep(m: Membership, master: string): Step {
  // PostgreSQL 16+ revokes only the grant recorded by the revoking role: name the recorded grantor when it is another.
  const grantedBy = m.grantor === master ? '' : ` GRANTED BY ${escapeIdentifier(m.grantor)}`;
  const role = describe(m.role);
  const member = describe(m.member);
  const refused = m.bootstrap
    ? 'It is recorded as granted by the bootstrap superuser (rdsadmin on Aurora), as PostgreSQL 16+ records the ADMIN OPTION a role gets on the roles it creates, and only a superuser may revoke it. '
      + `Configure a user name that is not this role (the pipeline then creates a new one), or, in the source cluster, drop or hand over the roles ${member} created.`
    : `Revoking it takes the ADMIN OPTION on ${role} and the privileges of ${describe(m.grantor)}, who granted it; on Aurora, the master's membership in rds_superuser covers `
      + `rds_superuser itself. Revoke the membership in the source cluster (REVOKE ${role} FROM ${member}, as ${describe(m.grantor)}), or configure a user name that is not this role.`;
  return {
    sql: `REVOKE ${escapeIdentifier(m.role)} FROM ${escapeIdentifier(m.member)}${grantedBy}`,
    what: `revoking the membership of role ${member} in ${role} (granted by ${describe(m.grantor)})`,
    hints: {
      '42501': refused,
      '2BP01': `${member} granted its membership in ${role} on to other roles (it held the ADMIN OPTION). Revoke those grants in the source cluster `
        + `(REVOKE ${role} FROM <role> GRANTED BY ${member}), or configure a user name that is not this role.`,
    },
  };
}

/**
 * Makes every configured role exactly what its configuration says, disables the unmanaged logins (with
 * `UnmanagedLogins.DISABLE`), then grants each role its privilege level on its databases and schemas.
 *
 * - A configured role is created, or updated if it exists (say, restored from production): `LOGIN INHERIT
 *   NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS`, its connection limit (none by default), its password
 *   (VALID UNTIL infinity), and every role membership it holds revoked (`rds_superuser` included), since the
 *   configuration grants none. A superuser is refused. The role is never dropped: what it owns stays.
 * - With `DISABLE`, every other login role but the master user, the bootstrap superuser and the `pg_*`/`rds*`
 *   roles gets `NOLOGIN PASSWORD NULL`; nothing is dropped, objects and grants stay.
 * - Grants as before: default privileges for objects the master creates later, and what a role holds beyond
 *   its level revoked (on the database, those schemas, their relations and the master's default privileges
 *   there; only what the master or the objects' owners granted, never on objects the role owns).
 *
 * All names are validated before the first connection. Roles are cluster-wide, grants per database: one
 * connection and one transaction per database; the roles are written in the first database's transaction
 * (`postgres` when no user names one). Before anything changes, every database and schema is checked to
 * exist and every relation in those schemas to be grantable by the master user. A refused statement names
 * the role and what to do, and rolls back everything. A run converges: running it again changes nothing but
 * the password verifiers' salts.
 */
export async function reconcileUsers(conn: DbConnection, users: ResolvedDbUser[], options: ReconcileOptions): Promise<DbUsersResult> {
  validateUsers(conn, users);
  if (!Object.values(UnmanagedLogins).includes(options?.unmanagedLogins)) {
    throw errors.invalidInput(`unmanagedLogins ${describe(options?.unmanagedLogins)} is not one of ${Object.values(UnmanagedLogins).join(', ')}. Use one of those.`);
  }
  const disable = options.unmanagedLogins === UnmanagedLogins.DISABLE;
  if (users.length === 0 && !disable) return { created: [], updated: [], databases: [], disabledLogins: [], revokedMemberships: [] };

  const verifiers = new Map(users.map((u) => [u.username, scramSha256Verifier(u.password)]));
  const secrets = [conn.password, ...users.map((u) => u.password), ...verifiers.values()];
  const dbNames = databasesOf(users);
  const opened: OpenDatabase[] = [];

  const run = async (db: OpenDatabase, step: Step) => {
    try {
      await db.client.query(step.sql);
    } catch (err) {
      throw mapDbError(err, `Setting up database users failed while ${step.what}`, conn, secrets, step.hints);
    }
  };
  const query = async <T>(db: OpenDatabase, what: string, sql: string, params: unknown[]): Promise<T[]> => {
    try {
      return (await db.client.query(sql, params)).rows as T[];
    } catch (err) {
      throw mapDbError(err, `Setting up database users failed while ${what} in database ${describe(db.name)}`, conn, secrets);
    }
  };

  /** Roles are cluster-wide: written once, in the first database's transaction. */
  const reconcileRoles = async (db: OpenDatabase) => {
    const names = users.map((u) => u.username);
    const existing = await query<ExistingRole>(db, 'looking up the roles',
      'SELECT rolname::text, rolsuper, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = ANY($1::text[])', [names]);
    const superuser = existing.find((r) => r.rolsuper);
    if (superuser) {
      throw errors.databaseSetupFailed(`The role ${describe(superuser.rolname)} is a superuser in the restored cluster. The pipeline does not manage superusers: choose another name for this database user, or remove the superuser attribute in the source cluster.`);
    }
    const created: string[] = [];
    const updated: string[] = [];
    for (const user of users) {
      const verifier = verifiers.get(user.username)!;
      const found = existing.find((r) => r.rolname === user.username);
      if (found) {
        for (const step of convergeSteps(user, found, verifier, conn.user)) await run(db, step);
        updated.push(user.username);
      } else {
        await run(db, {
          sql: `CREATE ROLE ${escapeIdentifier(user.username)} WITH LOGIN INHERIT CONNECTION LIMIT ${user.connectionLimit ?? -1} PASSWORD ${escapeLiteral(verifier)}`,
          what: `creating role ${describe(user.username)}`,
        });
        created.push(user.username);
      }
    }

    // The configuration grants no membership: revoke every one, then check none is left (a REVOKE of a grant
    // recorded under another grantor can end in a mere warning).
    const memberships = await query<Membership>(db, 'reading the configured roles\' memberships', MEMBERSHIPS_SQL, [names]);
    for (const m of memberships) await run(db, revokeMembershipStep(m, conn.user));
    const left = await query<Membership>(db, 'checking the configured roles\' memberships', MEMBERSHIPS_SQL, [names]);
    if (left.length > 0) {
      const m = left[0];
      throw errors.databaseSetupFailed(`Role ${describe(m.member)} is still a member of ${describe(m.role)} (granted by ${describe(m.grantor)}) after REVOKE: the master user ${describe(conn.user)} may revoke only grants recorded under its own name or a role whose privileges it has. Revoke the membership in the source cluster as ${describe(m.grantor)}, or configure a user name that is not this role. Nothing was changed.`);
    }

    const disabledLogins: string[] = [];
    if (disable) {
      const unmanaged = await query<{ rolname: string }>(db, 'listing the unmanaged login roles', UNMANAGED_LOGINS_SQL, [names, RESERVED_ROLE_PREFIXES]);
      for (const { rolname } of unmanaged) {
        await run(db, {
          sql: `ALTER ROLE ${escapeIdentifier(rolname)} WITH NOLOGIN PASSWORD NULL`,
          what: `disabling the unmanaged login role ${describe(rolname)} (unmanagedLogins DISABLE)`,
          hints: { 42501: adminOptionHint(conn.user, rolname, 'or set unmanagedLogins to KEEP to leave the production logins as they are (they then keep their production passwords).') },
        });
        disabledLogins.push(rolname);
      }
    }
    return { created, updated, disabledLogins, revokedMemberships: memberships.map((m) => `${m.role} from ${m.member}`) };
  };

  try {
    // Open every database first and check its schemas, so a missing one fails before anything changes.
    for (const name of dbNames.length > 0 ? dbNames : ['postgres']) {
      const client = clientFor(conn, name);
      client.on('error', () => undefined); // a dropped connection surfaces through the pending query
      const db: OpenDatabase = { name, client, users: users.filter((u) => u.databases.includes(name)) };
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw mapDbError(err, `Connecting to database ${describe(name)} at ${conn.host}:${conn.port} as ${describe(conn.user)} failed`, conn, secrets);
      }
      opened.push(db);
      const wanted = [...new Set(db.users.flatMap((u) => u.schemas))];
      const found = (await query<{ nspname: string }>(db, 'checking the schemas', 'SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1::text[])', [wanted]))
        .map((r) => r.nspname);
      const missing = wanted.filter((s) => !found.includes(s));
      if (missing.length > 0) {
        const who = db.users.filter((u) => u.schemas.some((s) => missing.includes(s))).map((u) => u.username);
        throw errors.databaseSetupFailed(`The schema(s) ${missing.map(describe).join(', ')} do not exist in database ${describe(name)} of the restored cluster (configured for ${who.map(describe).join(', ')}). Create them in the source database (they come with the snapshot) or remove them from those users' schemas. Nothing was changed.`);
      }
      await checkGrantable(db, wanted, query, conn);
    }

    let roles: Omit<DbUsersResult, 'databases'> | undefined;
    for (const [index, db] of opened.entries()) {
      await run(db, { sql: 'BEGIN', what: `starting a transaction in database ${describe(db.name)}` });
      try {
        if (index === 0) roles = await reconcileRoles(db);
        if (db.users.length > 0) {
          const held = await query<HeldPrivilege>(db, 'reading the roles\' privileges', HELD_PRIVILEGES_SQL,
            [db.users.map((u) => u.username), [...new Set(db.users.flatMap((u) => u.schemas))]]);
          for (const step of revokeSteps(db.name, db.users, held)) await run(db, step);
          for (const user of db.users) {
            for (const step of grantSteps(db.name, user)) await run(db, step);
          }
        }
        await run(db, { sql: 'COMMIT', what: `committing the changes in database ${describe(db.name)}` });
      } catch (err) {
        await db.client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
    return { ...roles!, databases: dbNames };
  } finally {
    await Promise.all(opened.map((db) => db.client.end().catch(() => undefined)));
  }
}
