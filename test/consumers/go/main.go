// Example (a) in Go: nightly refresh of staging from production in the same region (02:00 London time), with every default.
// The same stack as examples/same-region-defaults.ts; `cdk synth` runs it (cdk.json) into cdk.out/, as test/consumers/go.ts does.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	restore "github.com/cdk-aurora-restore-pipeline/cdk-aurora-restore-pipeline-go/cdkaurorarestorepipeline"
)

// NewStagingRefreshStack restores the latest snapshot of prod-aurora into staging-aurora.
func NewStagingRefreshStack(scope constructs.Construct, id string, props *awscdk.StackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	// The VPC the staging cluster lives in (an existing one; pass -c vpcId=... to use yours).
	vpcID, ok := stack.Node().TryGetContext(jsii.String("vpcId")).(string)
	if !ok || vpcID == "" {
		vpcID = "vpc-0a1b2c3d4e5f60718"
	}
	vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), &awsec2.VpcAttributes{
		VpcId:                      jsii.String(vpcID),
		AvailabilityZones:          jsii.Strings("eu-west-1a", "eu-west-1b"),
		PrivateSubnetIds:           jsii.Strings("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"),
		PrivateSubnetRouteTableIds: jsii.Strings("rtb-0a1b2c3d4e5f60001", "rtb-0a1b2c3d4e5f60002"),
	})

	restore.NewAuroraRestorePipeline(stack, jsii.String("Restore"), &restore.AuroraRestorePipelineProps{
		SourceClusterIdentifier: jsii.String("prod-aurora"),
		TargetClusterIdentifier: jsii.String("staging-aurora"),
		Vpc:                     vpc,
		Schedule: awsscheduler.ScheduleExpression_Cron(&awsscheduler.CronOptionsWithTimezone{
			Minute: jsii.String("0"), Hour: jsii.String("2"), TimeZone: awscdk.TimeZone_EUROPE_LONDON(),
		}),
	})
	return stack
}

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	NewStagingRefreshStack(app, "StagingRefresh", &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")},
	})
	app.Synth(nil)
}
