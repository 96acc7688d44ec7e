export * from './aurora-restore-pipeline';
export * from './database-user';
export * from './placement';
export * from './validation-query';
export { PipelineErrorName, DatabasePrivilege, OperationStatus, PipelineTag, UnmanagedLogins, PreflightCheckId, PreflightCheckStatus } from './contracts';
export type { RestoreExecutionInput, PreflightCheckResult } from './contracts';
