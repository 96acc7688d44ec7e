import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Renders a (possibly tokenized) IAM resource or action the way cdk-nag names it in a finding such as
 * `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:rds:...]`: `Ref` → `<Id>`, `Fn::GetAtt` → `<Id.Attr>`,
 * `Fn::Join` joined. So an acknowledgement is computed from the very value that was granted.
 */
export function nagName(scope: IConstruct, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
    const n = node as Record<string, any>;
    if (n['Fn::Join']) {
      const [delimiter, items] = n['Fn::Join'];
      return (items as unknown[]).map(visit).join(delimiter);
    }
    if (n['Fn::Sub']) return visit(n['Fn::Sub']);
    if (n['Fn::GetAtt']) {
      const [resource, attribute] = n['Fn::GetAtt'];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (n['Fn::ImportValue']) return visit(n['Fn::ImportValue']);
    if (n.Ref) return `<${visit(n.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}

/** Acknowledges `AwsSolutions-IAM5[Resource::<arn>]` on `scope` for a wildcard ARN that was granted. */
export function acknowledgeWildcardResource(scope: IConstruct, arn: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagName(scope, arn)}]`, reason });
}

/** Acknowledges findings on `scope`, each with its reason. */
export function acknowledge(scope: IConstruct, findings: Record<string, string>): void {
  Validations.of(scope).acknowledge(...Object.entries(findings).map(([id, reason]) => ({ id, reason })));
}
