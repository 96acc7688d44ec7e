export { RestoreExecutionInput, PipelineErrorName, DatabasePrivilege, OperationStatus, PipelineTag } from './contracts';
