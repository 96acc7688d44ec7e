import { EXECUTION_STATUS_CHANGE, ExecutionStatusChangeDetail, ExecutionStatusChangeEvent } from '../../src/contracts';

/** What varies between two Step Functions execution status changes. */
export interface StatusChangeFields {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: string;
  readonly startDate: number;
  readonly stopDate: number;
  readonly account: string;
  readonly region: string;
  readonly input?: string;
  readonly id?: string;
}

/**
 * A Step Functions execution status change exactly as EventBridge delivers it, with every field Step Functions
 * puts in it (also those the handler does not read).
 */
export function statusChangeEvent(f: StatusChangeFields): ExecutionStatusChangeEvent & Record<string, unknown> {
  // Step Functions also sends fields the handler does not read.
  const detail: ExecutionStatusChangeDetail & Record<string, unknown> = {
    executionArn: f.executionArn,
    stateMachineArn: f.stateMachineArn,
    name: f.name,
    status: f.status,
    startDate: f.startDate,
    stopDate: f.stopDate,
    input: f.input ?? JSON.stringify({ requestedBy: 'nightly' }),
    inputDetails: { included: true },
    output: null,
    outputDetails: null,
    error: null,
    cause: null,
  };
  return {
    'version': '0',
    'id': f.id ?? `${f.name}-${f.status}`,
    'detail-type': EXECUTION_STATUS_CHANGE.detailType,
    'source': EXECUTION_STATUS_CHANGE.source,
    'account': f.account,
    'time': new Date(f.stopDate).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'region': f.region,
    'resources': [f.executionArn],
    'detail': detail,
  };
}
