package com.example;

import java.util.List;

import io.github.cdkaurorarestorepipeline.AuroraRestorePipeline;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.TimeZone;
import software.amazon.awscdk.services.ec2.IVpc;
import software.amazon.awscdk.services.ec2.Vpc;
import software.amazon.awscdk.services.ec2.VpcAttributes;
import software.amazon.awscdk.services.scheduler.CronOptionsWithTimezone;
import software.amazon.awscdk.services.scheduler.ScheduleExpression;
import software.constructs.Construct;

/** Example (a) in Java: nightly refresh of staging from production in the same region (02:00 London time), with every default. */
public final class StagingRefreshApp {
    /** The same stack as examples/same-region-defaults.ts. */
    public static final class StagingRefreshStack extends Stack {
        private final AuroraRestorePipeline pipeline;

        public StagingRefreshStack(final Construct scope, final String id, final StackProps props) {
            super(scope, id, props);
            // The VPC the staging cluster lives in (an existing one; pass -c vpcId=... to use yours).
            Object vpcId = this.getNode().tryGetContext("vpcId");
            IVpc vpc = Vpc.fromVpcAttributes(this, "Vpc", VpcAttributes.builder()
                    .vpcId(vpcId instanceof String ? (String) vpcId : "vpc-0a1b2c3d4e5f60718")
                    .availabilityZones(List.of("eu-west-1a", "eu-west-1b"))
                    .privateSubnetIds(List.of("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"))
                    .privateSubnetRouteTableIds(List.of("rtb-0a1b2c3d4e5f60001", "rtb-0a1b2c3d4e5f60002"))
                    .build());

            this.pipeline = AuroraRestorePipeline.Builder.create(this, "Restore")
                    .sourceClusterIdentifier("prod-aurora")
                    .targetClusterIdentifier("staging-aurora")
                    .vpc(vpc)
                    .schedule(ScheduleExpression.cron(CronOptionsWithTimezone.builder()
                            .minute("0").hour("2").timeZone(TimeZone.EUROPE_LONDON).build()))
                    .build();
        }

        public AuroraRestorePipeline getPipeline() {
            return pipeline;
        }
    }

    public static void main(final String[] args) {
        App app = new App();
        new StagingRefreshStack(app, "StagingRefresh", StackProps.builder()
                .env(Environment.builder().account("123456789012").region("eu-west-1").build())
                .build());
        app.synth();
    }

    private StagingRefreshApp() {
    }
}
