#!/usr/bin/env python3
"""Example (a) in Python: nightly refresh of staging from production in the same region, with every default.
Every night at 02:00 London time, an EventBridge Scheduler schedule starts a restore.

The same stack as examples/same-region-defaults.ts. Run `cdk synth` in this folder, with the package installed in
the active venv: the CDK CLI runs `python3 app.py` (cdk.json) and writes the cloud assembly to cdk.out/.
(`python app.py` on its own synthesizes into a temporary folder that nobody reads.)
"""
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from cdk_aurora_restore_pipeline import AuroraRestorePipeline


class StagingRefreshStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The VPC the staging cluster lives in (an existing one; pass -c vpcId=... to use yours).
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=self.node.try_get_context("vpcId") or "vpc-0a1b2c3d4e5f60718",
            availability_zones=["eu-west-1a", "eu-west-1b"],
            private_subnet_ids=["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            private_subnet_route_table_ids=["rtb-0a1b2c3d4e5f60001", "rtb-0a1b2c3d4e5f60002"],
        )

        self.pipeline = AuroraRestorePipeline(
            self,
            "Restore",
            source_cluster_identifier="prod-aurora",
            target_cluster_identifier="staging-aurora",
            vpc=vpc,
            schedule=scheduler.ScheduleExpression.cron(minute="0", hour="2", time_zone=cdk.TimeZone.EUROPE_LONDON),
        )


app = cdk.App()
StagingRefreshStack(app, "StagingRefresh", env=cdk.Environment(account="123456789012", region="eu-west-1"))
app.synth()
