/**
 * Where the pipeline's Lambda functions run.
 */
export enum HandlerPlacement {
  /**
   * Only the functions that open a connection to the restored database (setup-db-users) run in the VPC, with their
   * own security group that the cluster's security groups admit. The others call AWS APIs only (over TLS, with
   * IAM authentication) and run outside the VPC: they need no NAT or VPC endpoints, reach the source region in a
   * cross-region restore, start without attaching a network interface, and their roles have no EC2
   * network-interface permissions.
   */
  DATABASE_ONLY = 'DATABASE_ONLY',

  /**
   * All the functions run in the VPC, for organisations whose policy requires every function there. The VPC then
   * needs a way to every AWS API the pipeline calls: NAT, or interface endpoints for RDS, DynamoDB, SNS, Secrets
   * Manager, KMS and STS (plus, in a cross-region restore, NAT: endpoints cannot reach the source region).
   */
  ALL_IN_VPC = 'ALL_IN_VPC',
}
