import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";

export interface AlertsProps {
  /** Each address gets a subscription; AWS mails it a confirmation link first. */
  emails: readonly string[];
}

/**
 * The staff's alert topic: the watcher's alerts and the CloudWatch alarms both arrive here. Encrypted
 * with a customer-managed key, because CloudWatch alarms cannot publish to a topic encrypted with the
 * AWS-managed `aws/sns` key (its policy cannot be changed to let them); publishing only over TLS.
 */
export class Alerts extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    this.key = new Key(this, "Key", {
      description: "Licence desk: encrypts the alert topic",
      enableKeyRotation: true,
      // Nothing is stored under this key beyond SNS's in-flight messages: it may go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch publishes alarm notifications to the encrypted topic. It needs only these two actions on
    // this key; it can reach the topic only because the alarms of this account name it as their action.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublishToTheAlertTopic",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: ["*"],
      }),
    );
    this.topic = new Topic(this, "Topic", {
      displayName: "Licence desk alerts",
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails) this.topic.addSubscription(new EmailSubscription(email));
  }

  /**
   * `sns:Publish` on this topic and the two KMS actions SNS needs from a publisher of an encrypted topic,
   * on this key only (CDK's `grantPublish` would add `kms:GenerateDataKey*`, a wildcard action).
   */
  grantPublish(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["sns:Publish"], resources: [this.topic.topicArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["kms:GenerateDataKey", "kms:Decrypt"], resources: [this.key.keyArn] }),
    );
  }
}
