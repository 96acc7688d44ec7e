/*
 * validateRestoredCluster against a real PostgreSQL server (test/support/postgres.ts): TLS with a throwaway CA,
 * SCRAM-SHA-256. The superuser plays the master user. Every failure must be ValidationFailed naming the query and
 * its database and why, and must never repeat what the query returned or the password.
 */
import { DbConnection } from '../../lambda-src/lib/postgres';
import { databaseCheck, MASTER_LOGIN_CHECK, validateRestoredCluster, type ValidationPlan } from '../../lambda-src/lib/restore-validation';
import { PipelineErrorName, type ValidationQuerySpec } from '../../src/contracts';
import { usePostgres, type TestPostgres } from '../support/postgres';

jest.setTimeout(600_000);

/** Values in the data that no message may ever show. */
const SECRET_DATA = ['cust-4111-1111-1111-1111', 'hidden-note-5f2a'];
const CLUSTER = 'arp-tmp-staging-db-op-1';

let pg: TestPostgres;
let conn: DbConnection;

usePostgres(async (server) => {
  pg = server;
  conn = { host: pg.host, port: pg.port, user: pg.superuser, password: pg.superPassword };
  await pg.withClient('postgres', async (c) => {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE DATABASE reports');
  });
  await pg.withClient('app', async (c) => {
    await c.query('CREATE TABLE customers (id serial PRIMARY KEY, card text, note text, active boolean)');
    await c.query('INSERT INTO customers (card, note, active) VALUES ($1, $2, true), ($1, $2, false)', SECRET_DATA);
    await c.query('CREATE TABLE empty_table (id int)');
  });
});

const q = (name: string, sql: string, database = 'app'): ValidationQuerySpec => ({ name, database, sql });
const plan = (queries: ValidationQuerySpec[], databases = ['app'], statementTimeoutMillis = 5_000): ValidationPlan => ({ databases, queries, statementTimeoutMillis });

type FailureOptions = { databases?: string[]; timeoutMs?: number; conn?: DbConnection };

async function failure(queries: ValidationQuerySpec[], options: FailureOptions = {}): Promise<Error> {
  const c = options.conn ?? conn;
  const err = await validateRestoredCluster(c, plan(queries, options.databases, options.timeoutMs), CLUSTER).then(() => undefined, (e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  // Booleans, so a failure does not print what it found.
  for (const secret of [...SECRET_DATA, c.password, pg.superPassword]) expect(err!.message.includes(secret)).toBe(false);
  return err!;
}

async function customerCount(): Promise<number> {
  return pg.withClient('app', async (c) => Number((await c.query('SELECT count(*) FROM customers')).rows[0].count));
}

describe('passing queries', () => {
  test.each([
    ['true', 'SELECT true'],
    ['a number > 0', 'SELECT 5'],
    ['a numeric string (numeric comes as a string)', "SELECT '5'::numeric"],
    ['a bigint count (comes as a string)', 'SELECT count(*) FROM customers'],
    ['a float', 'SELECT 0.5::float8'],
    ['a later row when the first does not pass', 'SELECT active FROM customers ORDER BY active'],
  ])('%s passes', async (_what, sql) => {
    const result = await validateRestoredCluster(conn, plan([q('check', sql)]), CLUSTER);
    expect(result).toEqual({ passed: 3, checks: [MASTER_LOGIN_CHECK, databaseCheck('app'), 'check'] });
  });

  test('the built-in checks cover every configured database and the queries\' databases, each once; a second run gives the same verdict', async () => {
    const p = plan([q('reports-up', 'SELECT true', 'reports'), q('customers', 'SELECT count(*) > 0 FROM customers')], ['app', 'postgres']);
    const expected = {
      passed: 6,
      checks: [MASTER_LOGIN_CHECK, databaseCheck('app'), databaseCheck('postgres'), databaseCheck('reports'), 'reports-up', 'customers'],
    };
    expect(await validateRestoredCluster(conn, p, CLUSTER)).toEqual(expected);
    expect(await validateRestoredCluster(conn, p, CLUSTER)).toEqual(expected);
  });

  test('no queries: the built-in checks only', async () => {
    expect(await validateRestoredCluster(conn, plan([]), CLUSTER)).toEqual({ passed: 2, checks: [MASTER_LOGIN_CHECK, databaseCheck('app')] });
  });
});

describe('failing queries: ValidationFailed naming the query, its database and why, never the data', () => {
  test.each([
    ['false', 'SELECT false', /its only row has false in the first column/],
    ['0', 'SELECT 0', /its only row has 0 in the first column/],
    ['a count of 0 (bigint string)', 'SELECT count(*) FROM empty_table', /its only row has 0 in the first column/],
    ['a negative number', 'SELECT -3', /a number that is not greater than 0/],
    ['no rows', 'SELECT id FROM empty_table', /returned no rows/],
    ['NULL', 'SELECT NULL::boolean', /NULL in the first column/],
    ['a text value, even a numeric-looking one', "SELECT '5'::text", /neither boolean nor a number/],
    ['the data itself', 'SELECT card FROM customers', /none of its 2 rows has a first column that passes.*neither boolean nor a number/],
    ['no row passing among several', 'SELECT active AND false FROM customers', /none of its 2 rows/],
    ['a statement that returns no columns', 'SET LOCAL work_mem = \'8MB\'', /returned no columns/],
  ])('%s fails', async (_what, sql, why) => {
    const err = await failure([q('customers-check', sql)]);
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/^Validation query "customers-check" \(database "app"\) failed on the restored cluster arp-tmp-staging-db-op-1/);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/true or a number greater than 0.*validationQueries/);
    expect(err.message).toMatch(/The validation changed nothing in the cluster/);
  });

  test('an SQL error names its SQLSTATE and class, with the server\'s text for syntax and access errors', async () => {
    const err = await failure([q('missing-table', 'SELECT count(*) FROM no_such_table')]);
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/"missing-table".*SQLSTATE 42P01 \(syntax error or access rule violation\): relation "no_such_table" does not exist/);
  });

  test('a data error does not repeat the server\'s text, which quotes the data', async () => {
    const err = await failure([q('cast', 'SELECT card::int > 0 FROM customers')]);
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/SQLSTATE 22P02 \(data exception\)\. Fix the query/);
  });

  test('a query past the statement timeout fails, naming the timeout', async () => {
    const err = await failure([q('slow', 'SELECT pg_sleep(5) IS NULL')], { timeoutMs: 1_000 });
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/"slow".*ran longer than the statement timeout of 1 s.*SQLSTATE 57014.*validationStatementTimeout/);
  });

  test.each([
    ['INSERT', "INSERT INTO customers (card) VALUES ('x') RETURNING true"],
    ['UPDATE', "UPDATE customers SET note = 'changed' RETURNING true"],
    ['DELETE', 'DELETE FROM customers RETURNING true'],
    ['a data-modifying CTE', 'WITH d AS (DELETE FROM customers RETURNING 1) SELECT count(*) FROM d'],
    ['CREATE TABLE', 'CREATE TABLE sneaky (id int)'],
  ])('read-only is enforced: %s fails and changes nothing', async (_what, sql) => {
    const before = await pg.withClient('app', async (c) => (await c.query('SELECT card, note FROM customers ORDER BY id')).rows);
    const err = await failure([q('writer', sql)]);
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/"writer".*tried to write.*read-only transaction \(SQLSTATE 25006\)/);
    expect(await pg.withClient('app', async (c) => (await c.query('SELECT card, note FROM customers ORDER BY id')).rows)).toEqual(before);
    expect(await pg.withClient('app', async (c) => (await c.query("SELECT to_regclass('sneaky') IS NULL AS gone")).rows[0].gone)).toBe(true);
  });

  test('no way out of the read-only transaction: SET TRANSACTION READ WRITE is refused, and a second statement is not run', async () => {
    const readWrite = await failure([q('escape', 'SET TRANSACTION READ WRITE')]);
    expect(readWrite.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(readWrite.message).toMatch(/SQLSTATE 25001/);
    const chained = await failure([q('chained', "COMMIT; INSERT INTO customers (card) VALUES ('x'); SELECT true")]);
    expect(chained.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(chained.message).toMatch(/SQLSTATE 42601.*A validation query is one SQL statement/);
    expect(await customerCount()).toBe(2);
  });

  test('the first failing query stops the run; the ones before it passed', async () => {
    const err = await failure([q('ok', 'SELECT true'), q('bad', 'SELECT false'), q('never', 'SELECT 1/0')]);
    expect(err.message).toMatch(/"bad"/);
    expect(err.message).not.toMatch(/"never"/);
  });
});

describe('built-in checks', () => {
  test('a missing database is ValidationFailed naming it, before any query runs', async () => {
    const err = await failure([q('ok', 'SELECT true')], { databases: ['app', 'analytics'] });
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/^Validation check built-in:database:analytics failed: database "analytics" does not exist in the restored cluster arp-tmp-staging-db-op-1.*SQLSTATE 3D000.*remove it from the configuration/);
  });

  test('a wrong master password is ValidationFailed pointing at the master secret, without the password', async () => {
    const wrong = { ...conn, password: 'not-the-master-Pw-31x' };
    const err = await failure([q('ok', 'SELECT true')], { conn: wrong });
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/^Validation check built-in:master-login failed: .*refused the master user "postgres" with the target's master secret \(SQLSTATE 28P01\)/);
  });

  test('a cluster that does not answer is DatabaseUnavailable (retried), not a verdict', async () => {
    const closed = { ...conn, port: 1, connectTimeoutMillis: 2_000 };
    const err = await failure([], { conn: closed });
    expect(err.name).toBe(PipelineErrorName.DATABASE_UNAVAILABLE);
  });

  test('a certificate that does not verify is ValidationFailed saying how to trust it', async () => {
    delete process.env.NODE_EXTRA_CA_CERTS;
    const err = await failure([]);
    expect(err.name).toBe(PipelineErrorName.VALIDATION_FAILED);
    expect(err.message).toMatch(/TLS connection.*NODE_EXTRA_CA_CERTS.*The validation changed nothing/);
  });
});
