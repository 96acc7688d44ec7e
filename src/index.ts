export * from './aurora-restore-pipeline';
export * from './database-user';
export * from './placement';
export * from './validation-query';
export { RunPhase } from './run-metrics';
export { PipelineSchedule } from './schedule';
export type { PipelineScheduleProps } from './schedule';
export { PipelineErrorName, DatabasePrivilege, OperationStatus, PipelineTag, PreviousTargetRetention, ReplaceStrategy, UnmanagedLogins, PreflightCheckId, PreflightCheckStatus } from './contracts';
export type { RestoreExecutionInput, PreflightCheckResult } from './contracts';
