/*
 * ValidateRestore: checks the restored cluster before the pipeline relies on it. Built in, always: the master
 * user logs in with the target's master secret, and every configured database exists. Then each configured
 * query (`validationQueries`) runs in a read-only transaction under a statement timeout and must return a row
 * whose first column is true or a number > 0. The SQL is in lib/restore-validation.ts; this is the glue.
 *
 * The cluster is the one `$.restore` names (as RestoreSnapshot and CheckRestoreStatus reported it), never the
 * configured target name: under a swap it is a temporary cluster beside the target. Read-only, so a retry or a
 * second call gives the same verdict and changes nothing.
 */
import { STEP_NAMES, ValidateRestoreEvent, ValidationResult } from '../src/contracts';
import { loadConfig, validateValidationInput } from './lib/config';
import { errors } from './lib/errors';
import { validateRestoredCluster } from './lib/restore-validation';
import { getSecretJson, requireSecretKey } from './lib/secrets';
import { runStep } from './lib/step';

export const handler = async (event: ValidateRestoreEvent): Promise<ValidationResult> => {
  const config = loadConfig();
  const state = event.state;
  // The lock check stops a stale (redriven) execution before it connects to anything.
  const opts = { step: STEP_NAMES.validateRestore, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    validateValidationInput(event);
    const restore = state.restore;
    if (!restore?.clusterIdentifier || !restore.endpoint || !restore.port || !restore.masterUsername) {
      throw errors.invalidInput(`Operation ${state.operationId} has no identifier, endpoint, port or master user name of the restored cluster ($.restore is incomplete), so it cannot be validated. The state machine definition is inconsistent: redeploy the pipeline and start the restore again.`);
    }
    const purpose = 'the master password of the restored cluster';
    const secret = await getSecretJson(config.restore.masterSecretArn, purpose);
    const password = requireSecretKey(secret, 'password', config.restore.masterSecretArn, purpose);

    log.info('validating the restored cluster', {
      cluster: restore.clusterIdentifier, host: restore.endpoint, databases: event.databases, queries: event.queries.map((q) => q.name),
    });
    const result = await validateRestoredCluster(
      { host: restore.endpoint, port: restore.port, user: restore.masterUsername, password },
      { databases: event.databases, queries: event.queries, statementTimeoutMillis: event.statementTimeoutSeconds * 1000 },
      restore.clusterIdentifier,
    );
    return { result, details: { cluster: restore.clusterIdentifier, host: restore.endpoint, passed: result.passed, checks: result.checks } };
  });
};
