/**
 * A check the pipeline runs on every restored cluster before it relies on it (ValidateRestore): one SQL statement,
 * run as the master user in a READ ONLY transaction under `validationStatementTimeout`. It passes when it returns at
 * least one row whose first column is true or a number greater than 0 (a `bigint` or `numeric` count counts);
 * no rows, false, 0, NULL, an SQL error or the timeout fail the run with `ValidationFailed`, naming the query and
 * why, never the data it returned.
 *
 * @example
 * const recentOrders: ValidationQuery = {
 *   name: 'recent-orders',
 *   database: 'app',
 *   sql: "SELECT count(*) FROM orders WHERE created_at > now() - interval '2 days'",
 * };
 */
export interface ValidationQuery {
  /**
   * The query's name in messages and in the run's validation summary: 1 to 64 letters, digits, spaces, `_`, `.`
   * or `-`, starting with a letter or digit; unique among the queries.
   */
  readonly name: string;

  /** One SQL statement (no `;`-separated list), at most 8,192 characters. */
  readonly sql: string;

  /**
   * The database it runs in: one of `databaseNames` or of a database user's `databases`.
   *
   * @default - the first of `databaseNames`
   */
  readonly database?: string;
}
