export * from './aurora-restore-pipeline';
export * from './database-user';
export * from './placement';
export * from './validation-query';
export { PipelineErrorName, DatabasePrivilege, OperationStatus, PipelineTag, PreviousTargetRetention, ReplaceStrategy, UnmanagedLogins } from './contracts';
export type { RestoreExecutionInput } from './contracts';
