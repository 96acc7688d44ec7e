/*
 * The pipeline stacks the e2e scenarios run: a consumer's stack in eu-west-1 (the target region) with an
 * imported VPC, so nothing but what the pipeline itself creates ends up in the template.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AuroraRestorePipeline, type AuroraRestorePipelineProps } from '../../../src';

/** The target region of every e2e stack. */
export const TARGET_REGION = 'eu-west-1';
/** moto's account. */
export const ACCOUNT = '123456789012';

/** Where {@link pipelineStack} puts its stack. */
export interface PipelineStackOptions {
  /** The app; pass one with an `outdir` you remove afterwards (the default app synthesizes into a new temp dir). */
  readonly app?: App;
  /** The stack's name, which prefixes generated physical names (tables, topic). Default `E2E`. */
  readonly stackName?: string;
}

/**
 * A stack with one pipeline: `prod-aurora` → `staging-aurora`, same region unless `sourceRegion` says otherwise.
 * `props` may be a function of the stack, to create what the props refer to (keys, secrets) in it first.
 */
export function pipelineStack(
  props: Partial<AuroraRestorePipelineProps> | ((stack: Stack) => Partial<AuroraRestorePipelineProps>) = {},
  options: PipelineStackOptions = {},
): { stack: Stack; pipeline: AuroraRestorePipeline } {
  const app = options.app ?? new App();
  const stack = new Stack(app, options.stackName ?? 'E2E', { env: { account: ACCOUNT, region: TARGET_REGION } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: [`${TARGET_REGION}a`, `${TARGET_REGION}b`],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0aaaaaaaaaaaaaaa2'],
  });
  const pipeline = new AuroraRestorePipeline(stack, 'Restore', {
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'staging-aurora',
    vpc,
    ...(typeof props === 'function' ? props(stack) : props),
  });
  return { stack, pipeline };
}
