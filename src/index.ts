export * from './aurora-restore-pipeline';
export * from './database-user';
export * from './placement';
export { PipelineErrorName, DatabasePrivilege, OperationStatus, PipelineTag } from './contracts';
export type { RestoreExecutionInput } from './contracts';
