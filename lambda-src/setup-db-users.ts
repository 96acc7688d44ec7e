/*
 * SetupDbUsers: reads the master password and each configured user's secret, checks every role name,
 * then reconciles the roles and grants in the restored cluster and, with `unmanagedLogins` DISABLE (the
 * default), disables production's other login roles (`$.dbUsers`). The SQL is in lib/postgres.ts; this is
 * the glue.
 *
 * Called twice: reconciliation converges, so a second call creates nothing new and disables nothing more;
 * roles created by the first call are reported as updated (their password verifiers get a new salt).
 * With no users configured and KEEP it does nothing, reads no secret and opens no connection (audited SKIPPED).
 */
import { DbUsersResult, SetupDbUsersEvent, STEP_NAMES, UnmanagedLogins } from '../src/contracts';
import { loadConfig, validateDbUserSpecs } from './lib/config';
import { errors } from './lib/errors';
import { NAME_RULE, roleNameProblem } from '../src/db-names';
import { reconcileUsers, ResolvedDbUser, validateRoleName } from './lib/postgres';
import { getSecretJson, requireSecretKey } from './lib/secrets';
import { runStep } from './lib/step';
import { AuditOutcome } from './lib/store';

export const handler = async (event: SetupDbUsersEvent): Promise<DbUsersResult> => {
  const config = loadConfig();
  const state = event.state;
  const opts = { step: STEP_NAMES.setupDbUsers, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const specs = event.users;
    validateDbUserSpecs(specs);
    const unmanagedLogins = event.unmanagedLogins;
    if (!Object.values(UnmanagedLogins).includes(unmanagedLogins)) {
      throw errors.invalidInput(`The SetupDbUsers task input is invalid: 'unmanagedLogins' must be one of ${Object.values(UnmanagedLogins).join(', ')}. The AuroraRestorePipeline construct writes it into the state machine: redeploy the stack rather than editing the definition.`);
    }
    if (specs.length === 0 && unmanagedLogins === UnmanagedLogins.KEEP) {
      log.info('no database users configured and unmanaged logins kept; nothing to do');
      const result: DbUsersResult = { created: [], updated: [], databases: [], disabledLogins: [], revokedMemberships: [] };
      return { result, outcome: AuditOutcome.SKIPPED, details: { users: 0 } };
    }
    const restore = state.restore;
    if (!restore?.endpoint || !restore.port || !restore.masterUsername) {
      throw errors.invalidInput(`Operation ${state.operationId} has no endpoint, port or master user name of the restored cluster ($.restore is incomplete), so the database users cannot be set up. The state machine definition is inconsistent: redeploy the pipeline and start the restore again.`);
    }

    // Read each secret once, even when several users share it.
    const cache = new Map<string, Promise<Record<string, string>>>();
    const read = (arn: string, purpose: string) => {
      let p = cache.get(arn);
      if (!p) {
        p = getSecretJson(arn, purpose);
        cache.set(arn, p);
      }
      return p;
    };

    const masterPurpose = 'the master password of the restored cluster';
    const masterSecret = await read(config.restore.masterSecretArn, masterPurpose);
    const masterPassword = requireSecretKey(masterSecret, 'password', config.restore.masterSecretArn, masterPurpose);

    const users: ResolvedDbUser[] = [];
    // Where each user's name comes from, for messages: a name read from a secret is never repeated in one.
    const origins: string[] = [];
    for (const [i, spec] of specs.entries()) {
      const purpose = `database user ${spec.username ?? `#${i + 1}`}`;
      const secret = await read(spec.secretArn, purpose);
      const username = spec.username ?? requireSecretKey(secret, spec.usernameKey, spec.secretArn, purpose);
      const password = requireSecretKey(secret, spec.passwordKey, spec.secretArn, `${purpose} (password)`);
      users.push({
        username,
        password,
        privilege: spec.privilege,
        databases: [...spec.databases],
        schemas: [...spec.schemas],
        connectionLimit: spec.connectionLimit ?? undefined,
      });
      origins.push(spec.username !== undefined
        ? `database user ${spec.username}`
        : `database user #${i + 1} (name from key "${spec.usernameKey}" of secret ${spec.secretArn})`);
    }
    // Every name is checked before the first connection: a bad one changes nothing.
    for (const [i, user] of users.entries()) {
      if (specs[i].username !== undefined) {
        validateRoleName(user.username);
        continue;
      }
      const problem = roleNameProblem(user.username);
      if (problem) {
        throw errors.invalidRoleName(`The role name of ${origins[i]} ${problem} (the value is not repeated here: it comes from a secret). Use ${NAME_RULE}, not starting with pg_ or rds and not a reserved name such as postgres or public; fix the secret's "${specs[i].usernameKey}" value.`);
      }
    }
    const duplicate = users.findIndex((u, i) => users.findIndex((v) => v.username === u.username) !== i);
    if (duplicate >= 0) {
      const first = users.findIndex((v) => v.username === users[duplicate].username);
      throw errors.invalidInput(`${origins[duplicate]} and ${origins[first]} name the same database role. Configure each role once, with all its databases and schemas.`);
    }

    log.info('reconciling database users', { host: restore.endpoint, port: restore.port, users: users.map((u) => u.username), unmanagedLogins });
    const connection = { host: restore.endpoint, port: restore.port, user: restore.masterUsername, password: masterPassword };
    const result = await reconcileUsers(connection, users, { unmanagedLogins });
    return {
      result,
      details: {
        created: result.created,
        updated: result.updated,
        databases: result.databases,
        disabledLogins: result.disabledLogins,
        revokedMemberships: result.revokedMemberships,
        host: restore.endpoint,
      },
    };
  });
};
