/*
 * A local PostgreSQL standing in for the Aurora clusters of an e2e scenario.
 *
 * In RDS, a cluster restored from a snapshot holds the source's databases, roles and master password, and
 * ModifyDBCluster's MasterUserPassword changes the password inside the database. moto keeps only the API
 * side. This module adds the database side:
 * - {@link resetSourceDatabase} makes the server look like what the source snapshot holds: the restored
 *   production cluster of test/support/restored-production.ts (a master role as on Aurora: LOGIN CREATEROLE
 *   CREATEDB, not a superuser, a member of rds_superuser, with the source's password; production's login
 *   roles, a group role, a schema a production role owns; the application database with a table and a row);
 * - {@link standInForCluster} points the target cluster's endpoint (in moto) at the server, and before
 *   every task gives the master role whatever password moto holds for the cluster now: the source's
 *   after a restore, the target secret's once the pipeline has reset it. So a pipeline that does not
 *   reset the password cannot log in with the target's secret, as in RDS. A swap's temporary cluster
 *   (`arp-tmp-<target>-…`) is the server too, from the first task that sees it: the pipeline connects to it
 *   before the cutover, so while one exists the master role follows its password, not the target's.
 *
 * Passwords reach the server only as SCRAM-SHA-256 verifiers, so its statement log never holds one.
 */
import { createHash } from 'node:crypto';
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { escapeIdentifier, escapeLiteral, type Client } from 'pg';
import type { E2EHarness } from './harness';
import { scramSha256Verifier } from '../../../lambda-src/lib/postgres';
import { temporaryNameStart } from '../../../src/names';
import type { TestPostgres } from '../../support/postgres';
import { APP_TABLE, PROD_APP, PROD_DBA, seedRestoredProduction, type RestoredProduction } from '../../support/restored-production';

export { APP_TABLE, PROD_APP, PROD_DBA, type RestoredProduction };

/** The master user of the source cluster, and so of every cluster restored from its snapshots. */
export const MASTER_USERNAME = 'clusteradmin';
/** The application database of the source cluster. */
export const APP_DATABASE = 'app';
/** The production role that the scenarios configure as a READ_ONLY user, and that was an admin in production. */
export const PROD_READ_ONLY_USER = 'app_ro';

/** What the source cluster's database holds. */
export interface SourceDatabase {
  /** The source's master password: what a restored cluster starts with. */
  readonly masterPassword: string;
  /** Default {@link MASTER_USERNAME}. */
  readonly masterUsername?: string;
  /** Default {@link APP_DATABASE}. */
  readonly database?: string;
}

/**
 * Drops every database and role but the bootstrap ones, then builds what the source's snapshot holds: the
 * restored production cluster, with {@link PROD_READ_ONLY_USER} as the production admin configured READ_ONLY.
 */
export async function resetSourceDatabase(pg: TestPostgres, source: SourceDatabase): Promise<RestoredProduction> {
  return seedRestoredProduction(pg, {
    masterUsername: source.masterUsername ?? MASTER_USERNAME,
    masterPassword: source.masterPassword,
    database: source.database ?? APP_DATABASE,
    readOnlyUser: PROD_READ_ONLY_USER,
  });
}

/** Where the stand-in applies. */
export interface StandInOptions {
  /** The target cluster's identifier. */
  readonly clusterIdentifier: string;
  /** The target region. */
  readonly region: string;
}

/** The local PostgreSQL as the target cluster. */
export interface ClusterStandIn {
  /** Host, as the cluster's endpoint reports it (the test certificate's name). */
  readonly host: string;
  readonly port: number;
  /** Makes the cluster report `status` (keeping the endpoint) until {@link release}. */
  hold(status: string): Promise<void>;
  /** Ends a {@link hold}. */
  release(): Promise<void>;
  /** How many times the master role's password was changed to follow the cluster's. */
  passwordChanges(): number;
}

/**
 * Makes the local PostgreSQL the target cluster: its endpoint, and its master password, which follows the
 * cluster's before every task of every run of `h`. Call after `moto.reset()` (which ends overrides).
 */
export async function standInForCluster(h: E2EHarness, pg: TestPostgres, options: StandInOptions): Promise<ClusterStandIn> {
  const { clusterIdentifier: id, region } = options;
  const endpoint = { endpoint: 'localhost', readerEndpoint: 'localhost', port: pg.port };
  await h.moto.overrideCluster(id, endpoint, { region });
  let applied: string | undefined;
  let changes = 0;
  const temporaries = new Set<string>();

  h.onTask(async () => {
    const clusters = (await h.rds(region).send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
    const temporary = clusters.map((c) => c.DBClusterIdentifier ?? '').find((c) => c.startsWith(temporaryNameStart(id)));
    if (temporary && !temporaries.has(temporary)) {
      await h.moto.overrideCluster(temporary, endpoint, { region });
      temporaries.add(temporary);
    }
    const creds = (temporary ? await h.moto.clusterCredentials(temporary, region) : undefined) ?? await h.moto.clusterCredentials(id, region);
    if (!creds) return;
    const fingerprint = createHash('sha256').update(`${creds.masterUsername}\0${creds.masterUserPassword}`).digest('hex');
    if (fingerprint === applied) return;
    if (creds.masterUsername === pg.superuser) {
      throw new Error(`Cluster ${id}'s master user is ${creds.masterUsername}, the test server's superuser, whose password the harness needs. `
        + `Seed clusters with MasterUsername ${MASTER_USERNAME}.`);
    }
    await pg.withClient('postgres', async (c: Client) => {
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [creds.masterUsername]);
      if (exists.rowCount === 0) {
        throw new Error(`Cluster ${id}'s master user ${creds.masterUsername} has no role in the local PostgreSQL; reset it with resetSourceDatabase first.`);
      }
      await c.query(`ALTER ROLE ${escapeIdentifier(creds.masterUsername)} PASSWORD ${escapeLiteral(scramSha256Verifier(creds.masterUserPassword))}`);
    });
    applied = fingerprint;
    changes += 1;
  });

  return {
    host: endpoint.endpoint,
    port: pg.port,
    hold: (status) => h.moto.overrideCluster(id, { ...endpoint, status }, { region }),
    release: () => h.moto.overrideCluster(id, endpoint, { region }),
    passwordChanges: () => changes,
  };
}

/** What a role may do in a database: `ok`, or the SQLSTATE of the refusal (`28P01` wrong password, `42501` denied). */
export interface RoleAbilities {
  readonly login: string;
  readonly select: string;
  readonly insert: string;
  readonly createTable: string;
}

async function outcome(client: Client, sql: string): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return 'ok';
  } catch (e) {
    return String((e as { code?: string }).code ?? (e as Error).message);
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Logs in as `user` and tries a read, a write and a DDL statement on the app table (rolled back). */
export async function probeRole(pg: TestPostgres, user: string, password: string, database = APP_DATABASE): Promise<RoleAbilities> {
  let client: Client;
  try {
    client = await pg.connect(database, user, password);
  } catch (e) {
    const code = String((e as { code?: string }).code ?? (e as Error).message);
    return { login: code, select: 'not tried', insert: 'not tried', createTable: 'not tried' };
  }
  try {
    const table = `public.${escapeIdentifier(APP_TABLE)}`;
    return {
      login: 'ok',
      select: await outcome(client, `SELECT count(*) FROM ${table}`),
      insert: await outcome(client, `INSERT INTO ${table} (name) VALUES ('probe')`),
      createTable: await outcome(client, 'CREATE TABLE public.probe (x int)'),
    };
  } finally {
    await client.end();
  }
}
