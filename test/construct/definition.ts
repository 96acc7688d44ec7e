import { Template } from 'aws-cdk-lib/assertions';

/** Renders CloudFormation intrinsics to plain strings: GetAtt → a fake ARN naming the logical id, Ref → the logical id. */
export function renderIntrinsics(value: unknown): unknown {
  if (typeof value === 'string' || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(renderIntrinsics);
  const v = value as Record<string, any>;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(renderIntrinsics).join(v['Fn::Join'][0]);
  if (v['Fn::GetAtt']) return `arn:aws:lambda:eu-west-1:123456789012:function:${v['Fn::GetAtt'][0]}`;
  if (v.Ref) return v.Ref === 'AWS::Partition' ? 'aws' : v.Ref === 'AWS::Region' ? 'eu-west-1' : v.Ref === 'AWS::AccountId' ? '123456789012' : v.Ref;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderIntrinsics(x)]));
}

/** The state machine's ASL, parsed from the template's DefinitionString. */
export function definitionOf(template: Template): any {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.values(machines);
  return JSON.parse(renderIntrinsics(machine.Properties.DefinitionString) as string);
}
