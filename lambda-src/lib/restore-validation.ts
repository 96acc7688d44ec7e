/*
 * Validates a restored cluster before anything relies on it: the master user logs in with the target's master
 * secret, every configured database exists, and each configured query passes. Read-only and idempotent: every
 * query runs in its own READ ONLY transaction that is always rolled back, under a statement timeout.
 *
 * Messages name the check and why it failed; never a value a query returned, never a password. A server error
 * is reported by its SQLSTATE, with the server's text only for the classes that name objects rather than data
 * (42 syntax or access rule, 25 transaction state).
 */
import type { Client, FieldDef } from 'pg';
import { errors, PipelineError } from './errors';
import { clientFor, DbConnection, describe, mapDbError, TRANSIENT_SQLSTATE_CLASSES, TRANSIENT_SQLSTATES } from './postgres';
import { PipelineErrorName, type ValidationQuerySpec, type ValidationResult } from '../../src/contracts';

/** What to validate. */
export interface ValidationPlan {
  /** Databases that must exist and accept the master user, in order; the queries' databases are added. */
  databases: string[];
  /** The configured queries, run in order. */
  queries: ValidationQuerySpec[];
  /** `statement_timeout` and `lock_timeout` of each query, in milliseconds. */
  statementTimeoutMillis: number;
}

/** Name of the built-in check that the master user logs in with the target's master secret. */
export const MASTER_LOGIN_CHECK = 'built-in:master-login';
/** Name of the built-in check that `database` exists and accepts the master user. */
export function databaseCheck(database: string): string {
  return `built-in:database:${database}`;
}

/** Type OIDs PostgreSQL numbers come as: int2, int4, int8, oid, float4, float8, numeric. */
const NUMERIC_TYPES = new Set([21, 23, 20, 26, 700, 701, 1700]);
const BOOL_TYPE = 16;

/** SQLSTATE classes (first two characters), for messages. */
const SQLSTATE_CLASSES: Record<string, string> = {
  '0A': 'feature not supported',
  '21': 'cardinality violation',
  '22': 'data exception',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state',
  '2B': 'dependent privilege descriptors still exist',
  '38': 'external routine exception',
  '39': 'external routine invocation exception',
  '3D': 'invalid catalog name',
  '3F': 'invalid schema name',
  '40': 'transaction rollback',
  '42': 'syntax error or access rule violation',
  '53': 'insufficient resources',
  '54': 'program limit exceeded',
  '55': 'object not in prerequisite state',
  '57': 'operator intervention',
  'P0': 'PL/pgSQL error',
  'XX': 'internal error',
};

/** Classes whose server text names objects (tables, columns, the statement kind), not data: safe to repeat. */
const QUOTABLE_CLASSES = new Set(['42', '25']);

interface PgLikeError {
  code?: string;
  message?: string;
  severity?: string;
}

function sqlState(err: unknown): string | undefined {
  const e = (err ?? {}) as PgLikeError;
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string' ? e.code : undefined;
}

function isTransient(code: string): boolean {
  // 57014 (query_canceled) is the statement timeout here: a verdict on the query, not a passing fault.
  return code !== '57014' && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2)));
}

// Said of the validation only: what happened to the target before it depends on the flow (today's DELETE_FIRST order replaced it).
const AFTER = 'The validation changed nothing in the cluster.';

/**
 * Runs the built-in checks, then each query. Returns the names of the checks that ran (all passed); the first
 * failure throws `ValidationFailed` naming it, or `DatabaseUnavailable` when the database is not reachable or
 * busy (retried by the state machine).
 */
export async function validateRestoredCluster(conn: DbConnection, plan: ValidationPlan, cluster: string): Promise<ValidationResult> {
  const secrets = [conn.password];
  const checks: string[] = [];
  const databases: string[] = [];
  for (const db of [...plan.databases, ...plan.queries.map((q) => q.database)]) if (!databases.includes(db)) databases.push(db);
  const timeoutConn: DbConnection = { ...conn, statementTimeoutMillis: plan.statementTimeoutMillis };
  const open = new Map<string, Client>();
  const where = `the restored cluster ${cluster} (${conn.host}:${conn.port})`;
  try {
    // Built in: the master login, then every database. PostgreSQL authenticates before it looks up the
    // database, so a missing database is told apart from a refused password.
    for (const db of databases) {
      const client = clientFor(timeoutConn, db);
      client.on('error', () => undefined); // a dropped connection surfaces through the pending query
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw connectionFailure(err, db, conn, where, secrets);
      }
      open.set(db, client);
      if (!checks.includes(MASTER_LOGIN_CHECK)) checks.push(MASTER_LOGIN_CHECK);
      checks.push(databaseCheck(db));
    }
    for (const query of plan.queries) {
      await runQuery(open.get(query.database)!, query, plan.statementTimeoutMillis, conn, where, secrets);
      checks.push(query.name);
    }
    return { passed: checks.length, checks };
  } finally {
    await Promise.all([...open.values()].map((c) => c.end().catch(() => undefined)));
  }
}

function connectionFailure(err: unknown, db: string, conn: DbConnection, where: string, secrets: string[]): PipelineError {
  const code = sqlState(err);
  if (code === '28P01' || code === '28000') {
    return errors.validationFailed(`Validation check ${MASTER_LOGIN_CHECK} failed: ${where} refused the master user ${describe(conn.user)} with the target's master secret (SQLSTATE ${code}). `
      + 'CheckRestoreStatus resets the master password from that secret: check that the secret was not rotated or edited since, and that nothing else changed the master password; then start the restore again. '
      + AFTER);
  }
  if (code === '3D000') {
    return errors.validationFailed(`Validation check ${databaseCheck(db)} failed: database ${describe(db)} does not exist in ${where} (SQLSTATE 3D000). `
      + 'It is configured (databaseNames, a database user\'s databases or a validation query\'s database) but the snapshot does not hold it: '
      + 'create it in the source cluster, restore a snapshot that has it, or remove it from the configuration. ' + AFTER);
  }
  const mapped = mapDbError(err, `Validation: connecting to database ${describe(db)} of ${where} as ${describe(conn.user)} failed`, conn, secrets);
  if (mapped.errorName === PipelineErrorName.DATABASE_UNAVAILABLE) return mapped;
  return errors.validationFailed(`${mapped.message} ${AFTER}`);
}

async function runQuery(
  client: Client, query: ValidationQuerySpec, timeoutMillis: number, conn: DbConnection, where: string, secrets: string[],
): Promise<void> {
  const label = `Validation query ${describe(query.name)} (database ${describe(query.database)})`;
  const internal = async (sql: string) => {
    try {
      await client.query(sql);
    } catch (err) {
      throw mapDbError(err, `${label}: ${sql} failed`, conn, secrets);
    }
  };
  await internal('BEGIN TRANSACTION READ ONLY');
  try {
    // A query first takes the transaction's snapshot: after it, SET TRANSACTION READ WRITE is refused.
    await internal('SELECT 1');
    let result: { rows: unknown[][]; fields: FieldDef[] };
    try {
      // The extended protocol takes exactly one statement: no `COMMIT; INSERT …` out of the read-only transaction.
      result = await client.query({ text: query.sql, rowMode: 'array', queryMode: 'extended' } as never);
    } catch (err) {
      throw queryFailure(err, label, timeoutMillis, where, conn, secrets);
    }
    const problem = verdict(result);
    if (problem) {
      throw errors.validationFailed(`${label} failed on ${where}: it ${problem}. A query passes when it returns at least one row whose first column is true or a number greater than 0. `
        + `Check the restored data (the snapshot may be older or emptier than expected), or fix the query in the pipeline's validationQueries. ${AFTER}`);
    }
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** Why the result does not pass, without its values beyond false, 0 and null; undefined when it passes. */
function verdict(result: { rows: unknown[][]; fields: FieldDef[] }): string | undefined {
  const type = result.fields[0]?.dataTypeID;
  if (!result.fields.length) return 'returned no columns (it is not a query that returns rows)';
  if (result.rows.length === 0) return 'returned no rows';
  if (result.rows.some((row) => passes(row[0], type))) return undefined;
  const first = result.rows[0][0];
  const rows = result.rows.length === 1 ? 'its only row has' : `none of its ${result.rows.length} rows has a first column that passes; the first has`;
  if (first === null || first === undefined) return `${rows} NULL in the first column`;
  if (type === BOOL_TYPE) return `${rows} false in the first column`;
  if (NUMERIC_TYPES.has(type)) return Number(first) === 0 ? `${rows} 0 in the first column` : `${rows} a number that is not greater than 0 in the first column`;
  return `${rows} a first column of a type that is neither boolean nor a number (type OID ${type})`;
}

function passes(value: unknown, type: number): boolean {
  if (value === true) return true;
  if (typeof value === 'number') return value > 0;
  // int8 and numeric come as strings, so they keep their precision.
  if (typeof value === 'string' && NUMERIC_TYPES.has(type)) return Number(value) > 0;
  return false;
}

function queryFailure(err: unknown, label: string, timeoutMillis: number, where: string, conn: DbConnection, secrets: string[]): PipelineError {
  const code = sqlState(err);
  if (!code) {
    // Not a server error: the connection dropped or timed out on the client's side.
    const mapped = mapDbError(err, `${label} on ${where}`, conn, secrets);
    return mapped.errorName === PipelineErrorName.DATABASE_UNAVAILABLE ? mapped : errors.validationFailed(`${mapped.message} ${AFTER}`);
  }
  if (isTransient(code)) return mapDbError(err, `${label} on ${where}`, conn, secrets);
  const cls = code.slice(0, 2);
  const className = SQLSTATE_CLASSES[cls] ?? 'see the PostgreSQL error codes';
  if (code === '57014') {
    return errors.validationFailed(`${label} failed on ${where}: it ran longer than the statement timeout of ${timeoutMillis / 1000} s and was cancelled (SQLSTATE 57014). `
      + `Make the query cheaper (an index, a LIMIT, a smaller range) or raise validationStatementTimeout. ${AFTER}`);
  }
  if (code === '25006') {
    return errors.validationFailed(`${label} failed on ${where}: it tried to write, and validation queries run in a read-only transaction (SQLSTATE 25006). `
      + `Use a query that only reads (a SELECT returning true or a count), and nothing it did was kept. ${AFTER}`);
  }
  const text = QUOTABLE_CLASSES.has(cls) ? `: ${redactText((err as PgLikeError).message ?? '', secrets)}` : '';
  const oneStatement = code === '42601' && /multiple commands/.test((err as PgLikeError).message ?? '') ? ' A validation query is one SQL statement.' : '';
  return errors.validationFailed(`${label} failed on ${where} with SQLSTATE ${code} (${className})${text}.${oneStatement} `
    + `Fix the query in the pipeline's validationQueries, or the restored data or privileges it relies on. ${AFTER}`);
}

function redactText(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}
