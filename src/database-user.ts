import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { DatabasePrivilege } from './contracts';

/**
 * A PostgreSQL role the pipeline creates or updates in the restored cluster after every restore. The role
 * converges to exactly this: `LOGIN INHERIT NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION`, not a
 * superuser, no role memberships, its connection limit, its password and its privilege level.
 *
 * @example
 * const reporting: DatabaseUser = {
 *   username: 'reporting',
 *   privilege: DatabasePrivilege.READ_ONLY,
 *   databases: ['app'],
 *   schemas: ['public', 'analytics'],
 * };
 */
export interface DatabaseUser {
  /**
   * The role name: lower-case letters, digits and `_`, starting with a letter or `_`, at most 63 bytes,
   * not starting with `pg_` or `rds`.
   */
  readonly username: string;

  /**
   * The secret holding the role's password under the JSON key `password`.
   *
   * @default - a secret is generated, encrypted with the pipeline's key, with `username` and `password`
   */
  readonly secret?: ISecret;

  /**
   * What the role may do.
   *
   * @default DatabasePrivilege.READ_ONLY
   */
  readonly privilege?: DatabasePrivilege;

  /**
   * The databases the role is granted on.
   *
   * @default - the pipeline's `databaseNames`
   */
  readonly databases?: string[];

  /**
   * The schemas the role is granted on, in each of its databases.
   *
   * @default ['public']
   */
  readonly schemas?: string[];

  /**
   * The most connections the role may hold at once (`CONNECTION LIMIT`). After every restore the role gets
   * exactly this limit, whatever it had in the source cluster.
   *
   * @default - no limit
   */
  readonly connectionLimit?: number;
}
