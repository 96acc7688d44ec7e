import { loadConfig } from './config';
import { mapAwsError } from './errors';
import { assertLockHeld, LockCheck } from './lock';
import { appendAudit, AuditDetails, AuditOutcome, updateOperation } from './store';

/** Keys whose values are dropped from log lines whatever they hold: defence in depth, nothing should send them. */
const SENSITIVE_KEY = /pass(word)?|secretstring|secret_?value|credential|token/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SENSITIVE_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

/** Structured JSON logging: one line per event, with the step and operation on every line. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that writes JSON lines to the function's log with `base` on each line. */
export function createLogger(base: Record<string, unknown>): Logger {
  const write = (level: 'INFO' | 'WARN' | 'ERROR', message: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...(redact(base) as object), ...(redact(fields ?? {}) as object) });
    if (level === 'ERROR') console.error(line);
    else if (level === 'WARN') console.warn(line);
    else console.log(line);
  };
  return {
    info: (m, f) => write('INFO', m, f),
    warn: (m, f) => write('WARN', m, f),
    error: (m, f) => write('ERROR', m, f),
  };
}

/** What a step's body returns: its result, and what to record in the audit trail. */
export interface StepOutcome<T> {
  readonly result: T;
  /** @default SUCCEEDED */
  readonly outcome?: AuditOutcome;
  /** Key identifiers for the audit entry and the log. Never a secret. */
  readonly details?: AuditDetails;
}

/** How {@link runStep} runs a step. */
export interface StepOptions {
  /** The step name (STEP_NAMES), also the audit entry's step. */
  readonly step: string;
  /** The operation the audit entry belongs to. */
  readonly operationId: string;
  /** Who started the operation, where known. */
  readonly requestedBy?: string;
  /**
   * The execution the operation belongs to. When set, the operation's state item records this step as
   * its current `step` (best effort: the audit entry is the record that counts).
   * @default - the state item is not touched
   */
  readonly executionArn?: string;
  /**
   * When true, a failing audit write after a successful body is logged, not thrown (the notification
   * step must not fail on bookkeeping).
   * @default false
   */
  readonly bestEffortAudit?: boolean;
  /**
   * The step changes something: before its body, verify that this operation and `executionArn` hold the
   * target's lock (re-taking it after a redrive when nothing newer ran), else fail with LockLost.
   * @default false
   */
  readonly changesTarget?: boolean;
  /**
   * Record an audit entry. False for a dry run, which writes nothing to the pipeline's tables.
   * @default true
   */
  readonly audit?: boolean;
}

/** Context given to a step's body. */
export interface StepContext {
  readonly log: Logger;
}

/**
 * Runs one step: logs its start and end as JSON, records an audit entry with its duration and outcome,
 * and maps AWS errors onto named pipeline errors. A failed step is audited as FAILED (best effort: an
 * audit problem never hides the step's own error) and rethrown under its pipeline name.
 */
export async function runStep<T>(opts: StepOptions, body: (ctx: StepContext) => Promise<StepOutcome<T>>): Promise<T> {
  const log = createLogger({ step: opts.step, operationId: opts.operationId });
  const started = Date.now();
  log.info('step started');
  let outcome: StepOutcome<T>;
  try {
    if (opts.changesTarget) {
      if (!opts.executionArn) throw new Error(`${opts.step}: the lock check needs the execution ARN`);
      const check = await assertLockHeld(loadConfig(), { operationId: opts.operationId, executionArn: opts.executionArn });
      if (check === LockCheck.RETAKEN) log.warn('lock re-taken by this redriven execution: no other operation ran on the target since it was released');
    }
    outcome = await body({ log });
  } catch (err) {
    const mapped = mapAwsError(err, opts.step);
    const durationMs = Date.now() - started;
    log.error('step failed', { errorName: mapped.name, errorMessage: mapped.message, durationMs });
    try {
      const details = { errorName: mapped.name, errorMessage: mapped.message };
      if (opts.audit !== false) await appendAudit(opts.operationId, opts.step, AuditOutcome.FAILED, details, durationMs, opts.requestedBy);
    } catch (auditErr) {
      log.error('could not write the audit entry of the failure', { errorName: (auditErr as Error)?.name, errorMessage: (auditErr as Error)?.message });
    }
    await recordStep(opts, log);
    throw mapped;
  }
  const durationMs = Date.now() - started;
  const auditOutcome = outcome.outcome ?? AuditOutcome.SUCCEEDED;
  try {
    if (opts.audit !== false) await appendAudit(opts.operationId, opts.step, auditOutcome, outcome.details ?? {}, durationMs, opts.requestedBy);
  } catch (err) {
    const mapped = mapAwsError(err, `${opts.step}: writing the audit entry`);
    log.error('could not write the audit entry', { errorName: mapped.name, errorMessage: mapped.message });
    if (!opts.bestEffortAudit) throw mapped;
  }
  await recordStep(opts, log);
  log.info('step finished', { outcome: auditOutcome, durationMs, ...outcome.details });
  return outcome.result;
}

async function recordStep(opts: StepOptions, log: Logger): Promise<void> {
  if (!opts.executionArn) return;
  try {
    await updateOperation(opts.operationId, opts.executionArn, { step: opts.step });
  } catch (err) {
    log.warn('could not record the step in the state item', { errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
  }
}

/** The audit outcome of a wait-loop step: SUCCEEDED when done, IN_PROGRESS otherwise. */
export function waitOutcome(done: boolean): AuditOutcome {
  return done ? AuditOutcome.SUCCEEDED : AuditOutcome.IN_PROGRESS;
}
