/*
 * The e2e scenarios run on pipelineStack() with the default handler placement. The local harness runs every
 * function in-process and has no network to model, so where each function would run is asserted here, on the
 * very template the scenarios provision.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { pipelineStack } from './stacks';
import { HANDLER_SPECS } from '../../../src/handlers';

test.each([
  ['same region', {}],
  ['cross-region', { sourceRegion: 'us-east-1' }],
])('the e2e stack (%s) places only the database functions (setup-db-users, validate-restore) in the VPC (DATABASE_ONLY)', (_name, props) => {
  const { stack } = pipelineStack(props);
  const fns = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  expect(fns).toHaveLength(HANDLER_SPECS.length);
  const inVpc = fns.filter(([, f]) => f.Properties.VpcConfig !== undefined).map(([id]) => id);
  expect(inVpc).toEqual([expect.stringMatching(/^RestoreHandlersSetupDbUsers[0-9A-F]{8}$/), expect.stringMatching(/^RestoreHandlersValidateRestore[0-9A-F]{8}$/)]);
});
