/*
 * moto's server as a child process for the e2e tests: AWS emulated on 127.0.0.1.
 *
 * Sets nothing global. Point the code under test at it with
 *   AWS_ENDPOINT_URL=<endpoint> AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
 * (see {@link motoClientEnv}). One server serves every region: the region comes from each request's
 * SigV4 scope.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ensureVenv } from './venv';

/** The launcher's emulator fixes, by name (see EMULATOR_FIXES in test/support/moto/launcher.py). */
export type MotoFix =
  | 'account-attributes'
  | 'snapshot-arn-as-identifier'
  | 'restore-deletion-protection'
  | 'automated-snapshot-name-collision'
  | 'failed-modify-keeps-cluster'
  | 'copy-kms-key-of-unencrypted-snapshot'
  | 'stopped-cluster-cannot-be-deleted'
  | 'restore-with-kms-key-encrypts'
  | 'rename-onto-existing-cluster'
  | 'rename-keeps-instances'
  | 'rename-reports-renaming'
  | 'assume-role-trust'
  | 'shared-snapshot-arn'
  | 'share-needs-customer-key'
  | 'shared-key-policy';

/** The header in which the test harness tells the launcher's `assume-role-trust` fix the ARN of the caller. */
export const CALLER_ARN_HEADER = 'x-harness-caller-arn';

/** Credentials of an account's administrator user, for test setup in another account than moto's default. */
export interface AccountCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What can be overridden on a cluster in describe/create/modify responses. */
export interface ClusterOverride {
  /** Reported `Status`, held until released (moto's own one-shot `creating` is not consumed meanwhile). */
  readonly status?: string;
  /** Reported `Endpoint`, e.g. `127.0.0.1` to send a handler to a local PostgreSQL. */
  readonly endpoint?: string;
  /** Reported `ReaderEndpoint`. */
  readonly readerEndpoint?: string;
  /** Reported `Port`. */
  readonly port?: number;
  /** Reported `PendingModifiedValues`, e.g. `{ MasterUserPassword: '****' }`. */
  readonly pendingModifiedValues?: Record<string, unknown>;
}

/** Where an override applies. */
export interface OverrideScope {
  /** Only the resource of this identifier in this region. Default: every region. */
  readonly region?: string;
}

/** What RDS knows of a cluster's master user and never tells: read from moto for a local stand-in database. */
export interface ClusterCredentials {
  readonly masterUsername: string;
  /** The current master password (a secret: never print it). */
  readonly masterUserPassword: string;
}

/** A running moto server. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: the value for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  /** The port. */
  readonly port: number;
  /** The emulator fixes the launcher applied. */
  readonly fixes: string[];
  /** Forgets every resource in every region (moto's /moto-api/reset) and releases every override. */
  reset(): Promise<void>;
  /** Makes describe calls report `status` for the cluster `id` until released. */
  holdClusterStatus(id: string, status: string, scope?: OverrideScope): Promise<void>;
  /** Makes describe calls report `status` and `PercentProgress` = `percent` for the cluster snapshot `id`. */
  holdSnapshotStatus(id: string, status: string, percent?: number, scope?: OverrideScope): Promise<void>;
  /** Makes describe calls report `status` for the DB instance `id`. */
  holdInstanceStatus(id: string, status: string, scope?: OverrideScope): Promise<void>;
  /**
   * Pins what RDS DescribeAccountAttributes reports for an account quota (e.g. `ManualClusterSnapshots`), in one region or
   * all; released with the overrides.
   */
  holdQuota(name: string, quota: { used?: number; max?: number }, scope?: OverrideScope): Promise<void>;
  /** Overrides what the cluster `id` reports (replaces any earlier override of that cluster). */
  overrideCluster(id: string, override: ClusterOverride, scope?: OverrideScope): Promise<void>;
  /**
   * The master user name and current master password of the cluster `id` in `region`, as the last
   * create, restore or modify set them; `undefined` when there is no such cluster.
   */
  clusterCredentials(id: string, region: string): Promise<ClusterCredentials | undefined>;
  /**
   * An access key of an administrator user of `account` (created on first use): SDK clients signing with it act in
   * that account (moto tells accounts apart by access key). For setting up another account; never for the pipeline.
   */
  accountCredentials(account: string): Promise<AccountCredentials>;
  /** The AWS managed key `alias/aws/<service>` (default `rds`) of an account and region, reporting KeyManager AWS. */
  awsManagedKey(region: string, account?: string, service?: string): Promise<{ keyId: string; arn: string }>;
  /** Ends the override of one resource. */
  release(kind: 'cluster' | 'snapshot' | 'instance', id: string, scope?: OverrideScope): Promise<void>;
  /** Ends every override. */
  releaseAll(): Promise<void>;
  /** Stops the server. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startMoto}. */
export interface StartMotoOptions {
  /** Leave some emulator fixes out, to observe moto's own behaviour. Default: all applied. */
  readonly withoutFixes?: MotoFix[];
  /** How long to wait for the server to listen. Default 60 s. */
  readonly startTimeoutMs?: number;
}

/** The environment variables that send AWS SDK v3 clients to the server. */
export function motoClientEnv(server: Pick<MotoServer, 'endpoint'>): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };
}

const LAUNCHER = path.join(__dirname, 'moto', 'launcher.py');
const STDERR_KEPT = 8000;

/** Starts moto's server (creating the Python venv on first use) and resolves once it listens. */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const python = ensureVenv();
  const args = [LAUNCHER];
  if (options.withoutFixes?.length) args.push(`--without-fix=${options.withoutFixes.join(',')}`);
  // The launcher exits when its stdin closes, so it never outlives this process.
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });

  const ready = await new Promise<{ host: string; port: number; fixes: string[] }>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moto did not start within ${timeoutMs} ms. Its stderr:\n${stderr}\n`
        + `Run \`${python} ${LAUNCHER}\` by hand to see why.`));
    }, timeoutMs);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`moto's launcher printed ${JSON.stringify(line)} instead of its JSON address line. Its stderr:\n${stderr}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`moto's launcher exited (code ${code}, signal ${signal}) before listening. Its stderr:\n${stderr}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`Could not run ${python}: ${e.message}. Delete <repo>/.venv to have it rebuilt.`));
    });
  });

  const endpoint = `http://${ready.host}:${ready.port}`;
  return new MotoHandle(child, endpoint, ready.port, ready.fixes, () => stderr);
}

class MotoHandle implements MotoServer {
  private stopped?: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    readonly port: number,
    readonly fixes: string[],
    private readonly stderr: () => string,
  ) {}

  async reset(): Promise<void> {
    const res = await fetch(`${this.endpoint}/moto-api/reset`, { method: 'POST' });
    if (!res.ok) throw new Error(`moto refused /moto-api/reset: ${res.status} ${await res.text()}`);
    await this.releaseAll();
  }

  async holdClusterStatus(id: string, status: string, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/override', { kind: 'cluster', id, status, ...scope });
  }

  async holdSnapshotStatus(id: string, status: string, percent?: number, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/override', {
      kind: 'snapshot', id, status, ...(percent === undefined ? {} : { percentProgress: percent }), ...scope,
    });
  }

  async holdInstanceStatus(id: string, status: string, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/override', { kind: 'instance', id, status, ...scope });
  }

  async overrideCluster(id: string, override: ClusterOverride, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/override', { kind: 'cluster', id, ...override, ...scope });
  }

  async clusterCredentials(id: string, region: string): Promise<ClusterCredentials | undefined> {
    const out = await this.control('POST', '/_harness/cluster-credentials', { id, region }) as
      { found: boolean; masterUsername?: string; masterUserPassword?: string };
    return out.found ? { masterUsername: out.masterUsername ?? '', masterUserPassword: out.masterUserPassword ?? '' } : undefined;
  }

  async accountCredentials(account: string): Promise<AccountCredentials> {
    return await this.control('POST', '/_harness/account-credentials', { account }) as AccountCredentials;
  }

  async awsManagedKey(region: string, account?: string, service = 'rds'): Promise<{ keyId: string; arn: string }> {
    return await this.control('POST', '/_harness/aws-managed-key', { region, service, ...(account ? { account } : {}) }) as { keyId: string; arn: string };
  }

  async release(kind: 'cluster' | 'snapshot' | 'instance', id: string, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/release', { kind, id, ...scope });
  }

  async holdQuota(name: string, quota: { used?: number; max?: number }, scope: OverrideScope = {}): Promise<void> {
    await this.control('POST', '/_harness/quota', { name, ...quota, ...scope });
  }

  async releaseAll(): Promise<void> {
    await this.control('POST', '/_harness/release', {});
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin!.end();
      this.child.kill('SIGTERM');
    });
    return this.stopped;
  }

  private async control(method: string, route: string, body: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${route}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    } catch (e) {
      throw new Error(`moto's control API at ${this.endpoint} is unreachable (${(e as Error).message}); `
        + `was the server stopped? Its stderr:\n${this.stderr()}`);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`moto's control API refused ${method} ${route} ${JSON.stringify(body)}: ${res.status} ${text}`);
    return JSON.parse(text);
  }
}
