import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { logicalId, resourcesOfType, type Statement, shippedDesk, synthDesk } from "./support.ts";

/** The alert topic, its key and its subscriptions (infra/alerts.ts). */
const { stack, template, json } = shippedDesk();
const topicId = logicalId(stack, stack.alerts.topic);
const keyId = logicalId(stack, stack.alerts.key);

describe("alerts", () => {
  it("go to a topic encrypted with a rotating customer key that CloudWatch may use, TLS only", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] } });
    template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          }),
        ]),
      },
    });
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("may be published by the alarms, which the topic's own policy would otherwise refuse", () => {
    const [, policy] = resourcesOfType(json, "AWS::SNS::TopicPolicy")[0] ?? [];
    const allow = ((policy?.Properties?.PolicyDocument.Statement ?? []) as Statement[]).filter(
      (s) => s.Effect === "Allow",
    );
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Resource: { Ref: topicId },
      Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
    });
    const sources = allow[0]?.Condition?.ArnEquals?.["aws:SourceArn"] as unknown[];
    expect(new Set(sources)).toEqual(
      new Set(stack.alarms.all().map((a) => ({ "Fn::GetAtt": [logicalId(stack, a), "Arn"] }))),
    );
  });

  it("are mailed to the addresses in context, and to nobody by default", () => {
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    const mailed = synthDesk({ alertEmails: ["ops@example.com", "billing@example.com"] });
    mailed.template.resourceCountIs("AWS::SNS::Subscription", 2);
    for (const address of ["ops@example.com", "billing@example.com"]) {
      mailed.template.hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: address,
        TopicArn: { Ref: topicId },
      });
    }
    // from the command line: -c alertEmails=a@x.org,b@y.org
    synthDesk({ alertEmails: "a@example.org, b@example.org" }).template.resourceCountIs(
      "AWS::SNS::Subscription",
      2,
    );
  });
});
