/*
 * `npx projen demo`: one restore, end to end, on this machine.
 *
 * First a dry run (the preflight alone: its checklist is printed), then the restore.
 * The pipeline's synthesized state machine runs with aws-local-stepfunctions; every step runs its bundled
 * handler (assets/<step>/index.js, the code that ships) against moto, which emulates RDS, DynamoDB, SNS,
 * SQS, KMS and Secrets Manager, and a real PostgreSQL 18 (TLS, SCRAM) standing in for the restored cluster.
 * The stack: snapshots of `prod-aurora` in us-east-1 restored into `staging-aurora` in eu-west-1 (a copy
 * re-encrypted with the stack's key), with a read-only and a read-write database user, over an existing
 * `staging-aurora` (last night's, owned by the pipeline) that the run swaps out: restored beside it as
 * `arp-tmp-…`, renamed in at the cutover, the previous one retired. The PostgreSQL holds what
 * a production snapshot holds (test/support/restored-production.ts): production's login roles with their
 * passwords, and app_ro, an admin in production that the configuration makes read-only.
 *
 * moto finishes copies and restores at once, so the demo holds the copy at `copying` for two checks (with
 * PercentProgress) and the new cluster at `creating` for one, and shortens every Wait to 0.3 s: the wait loops
 * show as they would on AWS, in seconds. Everything it starts is stopped and removed at the end, on failure
 * and on Ctrl-C. `--keep` (or DEMO_KEEP=1) keeps moto running after the summary, to look around with the
 * aws CLI, until Ctrl-C.
 */
import '../setup/polyfills';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { APP_DATABASE, APP_TABLE, MASTER_USERNAME, probeRole, type RoleAbilities } from './support/local-cluster';
import type { Invocation } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { notifications, seedTarget, startScenario, startWorld, type World } from './support/world';
import { copySnapshotIdentifier, temporaryClusterIdentifier } from '../../lambda-src/lib/naming';
import { DatabasePrivilege, PipelineTag } from '../../src';
import { ensureVenv } from '../support/venv';

// This process's own SDK clients would warn about Node 20's end of support; the handlers get the same setting.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SOURCE_REGION = 'us-east-1';
const WAIT_MS = 300;
const USERS = [
  { username: 'app_ro', privilege: DatabasePrivilege.READ_ONLY },
  { username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE },
];

const started = Date.now();
const keep = process.argv.includes('--keep') || process.env.DEMO_KEEP === '1';
let stdoutOpen = true;
// `npx projen demo | head` closes stdout early: stop printing, but still clean up.
process.stdout.on('error', () => {
  stdoutOpen = false;
});
const out = (line = '') => {
  if (stdoutOpen) process.stdout.write(`${line}\n`);
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// ----- cleanup: always, once -----
const cleanups: Array<{ what: string; run: () => Promise<void> | void }> = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const t = Date.now();
    for (const c of cleanups.reverse()) {
      try {
        await c.run();
      } catch (e) {
        out(`  could not ${c.what}: ${(e as Error).message}`);
      }
    }
    if (cleanups.length > 0) out(`Stopped moto and PostgreSQL, removed the temp files (${seconds(Date.now() - t)}).`);
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    interrupted = true;
    out(`\n${signal}: cleaning up...`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('uncaughtException', (e) => {
  out(`\nUnexpected error: ${e.stack ?? e.message}`);
  void cleanup().finally(() => process.exit(1));
});

async function phase<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
  if (stdoutOpen) process.stdout.write(`${label} ... `);
  const t = Date.now();
  const result = await fn();
  out(`done (${seconds(Date.now() - t)})`);
  return result;
}

/** One line per task, as it happens: when, which step, how long, and what it reported. */
function reportTask(runStart: number) {
  return (inv: Invocation) => {
    const at = `+${seconds(inv.startedAt - runStart)}`.padStart(7);
    const name = (inv.stateName + (inv.attempt > 0 && /^Check|^DeleteRds|^Cutover|PreviousTarget$/.test(inv.stateName) ? ` #${inv.attempt + 1}` : '')).padEnd(22);
    const took = `${inv.durationMs} ms`.padStart(7);
    out(`  ${at}  ${name} ${took}  ${inv.error ? `FAILED ${inv.error.errorType}: ${inv.error.errorMessage}` : describeResult(inv.stateName, inv.result as any)}`);
  };
}

function describeResult(state: string, r: any): string {
  const wait = (p: any) => (p.done ? '' : `, next check in ${p.nextWaitSeconds} s on AWS (${WAIT_MS / 1000} s here)`);
  const pct = (p: any) => (p.percentProgress === undefined ? '' : ` ${p.percentProgress}%`);
  switch (state) {
    case 'SnapshotCheck':
      return `snapshot ${r.snapshot.identifier} (${r.snapshot.snapshotType}, ${r.snapshot.region}); `
        + `${r.copyRequired ? `copy to ${r.targetRegion}` : 'no copy'}; target ${r.replaceTarget ? 'exists: replace it' : 'is new'}; lock taken`;
    case 'CopySnapshot':
    case 'CheckCopyStatus':
      return `${r.snapshotIdentifier}: ${r.status}${pct(r)}${wait(r)}`;
    case 'DeleteRds':
    case 'DeleteKeptPreviousTarget':
    case 'RetirePreviousTarget':
      return `${r.status}${r.finalSnapshotIdentifier && r.done ? `, final snapshot ${r.finalSnapshotIdentifier}` : ''}${wait(r)}`;
    case 'Cutover':
      return r.done
        ? `${r.temporaryClusterIdentifier} is now ${r.previousClusterIdentifier.replace(/^arp-prev-/, '')}; the previous target is ${r.previousClusterIdentifier}; unavailable ${r.targetUnavailableSeconds} s`
        : `${r.phase}: ${r.status}${wait(r)}`;
    case 'RestoreSnapshot':
    case 'CheckRestoreStatus':
      return `${r.clusterIdentifier}: ${r.status}${r.done ? ` at ${r.endpoint}:${r.port}, master password reset` : wait(r)}`;
    case 'SetupDbUsers':
      return `created [${r.created.join(', ')}], updated [${r.updated.join(', ')}] in ${r.databases.join(', ')}; `
        + `disabled ${r.disabledLogins.length} production logins, revoked ${r.revokedMemberships.length} memberships`;
    case 'ValidateRestore':
      return `${r.passed} checks passed: ${r.checks.join(', ')}`;
    case 'ArchiveSnapshot':
      return `${r.action}${r.snapshotIdentifier ? ` ${r.snapshotIdentifier}` : ''}`;
    default:
      return r?.status ? `${r.status} notification published, lock ${r.lockReleased ? 'released' : 'not held'}` : 'ok';
  }
}

function abilities(a: RoleAbilities): string {
  if (a.login !== 'ok') return `cannot log in (${a.login})`;
  const say = (what: string, r: string) => `${what} ${r === 'ok' ? 'ok' : r === '42501' ? 'denied' : r}`;
  return `logs in; ${say('SELECT', a.select)}, ${say('INSERT', a.insert)}, ${say('CREATE TABLE', a.createTable)}`;
}

async function main(): Promise<number> {
  out('Aurora restore pipeline: a local run of the synthesized state machine');
  out('  handlers: the bundles in assets/ | AWS: moto | database: PostgreSQL 18 (TLS, SCRAM) | Step Functions: aws-local-stepfunctions');
  out();

  await phase('Python venv with moto (built on first use from PyPI, then reused)', () => ensureVenv());
  const world: World = await phase('Starting moto and PostgreSQL', () => startWorld({ postgres: true }));
  cleanups.push({ what: 'stop moto and PostgreSQL', run: () => world.stop() });
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'aurora-restore-demo-'));
  cleanups.push({ what: `remove ${outdir}`, run: () => fs.rmSync(outdir, { recursive: true, force: true }) });

  const now = new Date();
  const day = (offset: number) => new Date(now.getTime() - offset * 86_400_000).toISOString().slice(0, 10);
  const snapshots = [`prod-aurora-${day(1)}`, `prod-aurora-${day(0)}`];
  const scenario = await phase('Synthesizing the stack, creating its tables, topic, keys and secrets in moto, seeding prod-aurora', async () => {
    const { stack } = pipelineStack({
      sourceRegion: SOURCE_REGION,
      databaseNames: [APP_DATABASE],
      databaseUsers: USERS,
      validationQueries: [{ name: 'accounts-present', sql: `SELECT count(*) FROM public.${APP_TABLE}` }],
    }, { app: new App({ outdir }), stackName: 'AuroraRestoreDemo' });
    return startScenario(world, stack, { snapshots });
  });
  const { h, target } = scenario;
  const config = h.config;
  await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: config.pipelineId }, { Key: PipelineTag.OPERATION_ID, Value: 'last-night' }] });
  out(`  pipeline: ${config.sourceClusterIdentifier} (${config.sourceRegion}) -> ${config.targetClusterIdentifier} (${config.targetRegion}); `
    + `users ${USERS.map((u) => `${u.username} (${u.privilege})`).join(', ')} in database ${APP_DATABASE}`);
  out(`  source snapshots: ${snapshots.join(', ')}; existing target: ${config.targetClusterIdentifier} (last night's, owned by the pipeline)`);
  out();

  // The first thing to run after deploying: the preflight alone, which changes nothing and notifies its checklist.
  const dryRunName = `dry-run-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  out(`Dry run ${dryRunName} ({"dryRun": true}: the preflight only; no lock, nothing written):`);
  const dryRun = await h.run({ dryRun: true, requestedBy: 'npx projen demo' }, { executionName: dryRunName, waitMs: WAIT_MS });
  const [checklist] = await notifications(h);
  for (const c of (checklist?.checks ?? []) as Array<{ id: string; status: string; reason: string; fix?: string }>) {
    out(`  ${c.status.padEnd(7)} ${c.id.padEnd(26)} ${c.reason}${c.fix ? ` Fix: ${c.fix}` : ''}`);
  }
  out(`  ${dryRun.status}${dryRun.status === 'SUCCEEDED' ? '' : `: ${dryRun.error?.Error}: ${dryRun.error?.Cause}`}`);
  out();
  if (dryRun.status !== 'SUCCEEDED') return 1;

  const executionName = `demo-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const copyId = copySnapshotIdentifier(config.targetClusterIdentifier, executionName);
  const scope = { region: TARGET_REGION };
  await h.moto.holdSnapshotStatus(copyId, 'copying', 0, scope);
  const temporary = temporaryClusterIdentifier(config.targetClusterIdentifier, executionName);
  const standIn = { endpoint: target!.host, readerEndpoint: target!.host, port: target!.port };
  const progress = [35, 80];

  out(`Execution ${executionName} (each Wait takes ${WAIT_MS / 1000} s here instead of the seconds it says):`);
  const runStart = Date.now();
  const run = await h.run({ requestedBy: 'npx projen demo' }, {
    executionName,
    waitMs: WAIT_MS,
    beforeTask: async (state, _event, attempt) => {
      if (state === 'CheckCopyStatus') {
        if (attempt < progress.length) await h.moto.holdSnapshotStatus(copyId, 'copying', progress[attempt], scope);
        else await h.moto.release('snapshot', copyId, scope);
      }
      // The new cluster (the local PostgreSQL too) reports `creating` on its first check.
      if (state === 'CheckRestoreStatus' && attempt === 0) await h.moto.overrideCluster(temporary, { ...standIn, status: 'creating' }, scope);
      if (state === 'CheckRestoreStatus' && attempt === 1) await h.moto.overrideCluster(temporary, standIn, scope);
    },
    afterTask: reportTask(runStart),
  });
  out(`  ${run.status} in ${seconds(Date.now() - runStart)} (${run.path.length} states entered)`);
  out();

  const operationId = executionName;
  const state = await h.stateItem(operationId);
  const audit = await h.auditItems(operationId);
  const [message] = await notifications(h);

  if (run.status !== 'SUCCEEDED') {
    out(`Result: ${run.status}: ${run.error?.Error}`);
    out(`  ${message?.error?.cause ?? run.error?.Cause}`);
  } else {
    out(`Result: ${state?.status}`);
    out(`  target endpoint  ${message.target.endpoint}:${message.target.port} (the local PostgreSQL standing in for ${config.targetClusterIdentifier}; `
      + `engine ${message.target.engineVersion})`);
    out(`  target unavailable ${message.targetUnavailableSeconds} s (first rename → new cluster available as ${config.targetClusterIdentifier}; `
      + 'here moto renames at once and each Wait is 0.3 s; on AWS each rename takes about a minute: see `npx projen bench:swap`)');
    out(`  previous target  ${message.previousTarget.identifier} ${message.previousTarget.action}${message.previousTarget.finalSnapshotIdentifier ? `, final snapshot ${message.previousTarget.finalSnapshotIdentifier}` : ''}`);
    out(`  users created    ${message.dbUsers.created.join(', ')}; updated ${message.dbUsers.updated.join(', ')}`);
    out(`  logins disabled  ${message.dbUsers.disabledLogins.join(', ')} (NOLOGIN, password removed, not dropped)`);
    out(`  revoked          ${message.dbUsers.revokedMemberships.join(', ')}`);
    const pg = world.pg!;
    const master = (await h.secretJson(config.restore.masterSecretArn)).password;
    const rows: Array<[string, RoleAbilities]> = [
      [`${MASTER_USERNAME} with the target's master secret`, await probeRole(pg, MASTER_USERNAME, master)],
      [`${MASTER_USERNAME} with the source's password`, await probeRole(pg, MASTER_USERNAME, world.sourcePassword)],
    ];
    for (const user of USERS) {
      const spec = h.dbUsers.find((u) => u.username === user.username)!;
      const password = (await h.secretJson(spec.secretArn)).password;
      rows.push([`${user.username} (${user.privilege}) with its secret`, await probeRole(pg, user.username, password)]);
    }
    for (const login of scenario.production!.logins) {
      rows.push([`${login.username} with its production password`, await probeRole(pg, login.username, login.password)]);
    }
    out('  checked in PostgreSQL, with the passwords read from Secrets Manager:');
    const width = Math.max(...rows.map(([label]) => label.length));
    for (const [label, result] of rows) out(`    ${label.padEnd(width)}  ${abilities(result)}`);
    out(`  snapshot copy    ${message.archive.action} (${message.archive.snapshotIdentifier})`);
  }
  out(`  notification     ${message ? `${message.status} for ${message.operationId}, read from the SQS queue subscribed to the topic` : 'none received'}`);
  const leaks = await scenario.leaks([run]);
  out(`  secret scan      ${leaks.length === 0 ? 'no password in any log line, payload, DynamoDB item, notification or the PostgreSQL log' : `LEAKS: ${JSON.stringify(leaks)}`}`);
  out();

  out(`State item (table ${config.stateTableName}):`);
  if (state) {
    for (const key of ['operation_id', 'status', 'snapshot_identifier', 'target_endpoint', 'target_unavailable_seconds', 'started_at', 'finished_at', 'error_name', 'error_message']) {
      if (state[key] !== undefined) out(`  ${key.padEnd(20)} ${state[key]}`);
    }
  }
  out(`Audit trail (table ${config.auditTableName}), oldest first:`);
  for (const item of audit) {
    const when = String(item.time_step).split('#')[0].slice(11, 23);
    const ms = typeof item.duration_ms === 'number' ? `${item.duration_ms} ms` : '';
    out(`  ${when}  ${String(item.step).padEnd(20)} ${String(item.outcome).padEnd(11)} ${ms.padStart(8)}`);
  }
  out();
  out('On AWS, the same with the aws CLI (README, "Read state and audit"):');
  out(`  aws dynamodb get-item --table-name ${config.stateTableName} --key '{"operation_id": {"S": "${operationId}"}}'`);
  out(`  aws dynamodb get-item --table-name ${config.stateTableName} --key '{"operation_id": {"S": "LOCK#${config.targetClusterIdentifier}"}}'`);
  out(`  aws dynamodb query --table-name ${config.auditTableName} \\`);
  out(`    --key-condition-expression 'operation_id = :o' --expression-attribute-values '{":o": {"S": "${operationId}"}}'`);
  out();
  const figures = state?.run_figures as Record<string, any> | undefined;
  if (figures) {
    const notify = run.invocations.find((i) => i.stateName === 'NotifySuccess');
    const emf = notify?.logs.find((l) => l.includes('"_aws"'));
    const phases = Object.entries(figures.phaseSeconds as Record<string, number>).map(([p, v]) => `${p.toLowerCase()} ${v} s`).join(', ');
    out('Run figures (state item run_figures; the notification\'s figures; CloudWatch metrics in namespace AuroraRestorePipeline):');
    out(`  restore time (RTO)   ${figures.restoreSeconds} s  from ${figures.startedAt} to the target ready with its users at ${figures.readyAt}`);
    out(`  snapshot age (RPO)   ${figures.snapshotAgeSeconds} s  the snapshot was taken at ${figures.snapshotCreatedAt}`);
    out(`  target unavailable   ${figures.targetUnavailableSeconds === undefined ? 'none: there was no previous target to replace' : `${figures.targetUnavailableSeconds} s`}`);
    out(`  phases               ${phases}`);
    out(`  metrics              ${emf ? `one embedded-metric-format line in NotifySuccess's log: ${JSON.parse(emf)._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).join(', ')}` : 'NONE emitted'}`);
    out(`  (moto took the snapshot just now and the Waits are ${WAIT_MS / 1000} s here: on AWS these are minutes and hours)`);
    out();
  }

  if (keep) {
    out(`moto keeps running at ${h.moto.endpoint}: add --endpoint-url ${h.moto.endpoint} --region ${TARGET_REGION} to the commands above `
      + '(with AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing). Ctrl-C stops it.');
    await new Promise<void>(() => setInterval(() => undefined, 60_000));
  }
  return run.status === 'SUCCEEDED' && leaks.length === 0 ? 0 : 1;
}

void main()
  .catch(async (e: Error) => {
    // On Ctrl-C the servers get the signal too and stop under the run, which may fail before this process
    // handles its own signal: give that a moment, and print no stack trace for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (!interrupted) {
      out();
      out(`The demo failed: ${e.stack ?? e.message}`);
    }
    return 1;
  })
  .then(async (code) => {
    if (interrupted) return; // the signal handler cleans up and exits
    await cleanup();
    out(`Demo ${code === 0 ? 'finished' : 'FAILED'} in ${seconds(Date.now() - started)}.`);
    process.exit(code);
  });
