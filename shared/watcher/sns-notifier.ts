import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { Alert } from "./alerts.ts";
import type { Notifier } from "./notifier.ts";

/**
 * Alerts as SNS messages to the staff's e-mail subscriptions: the subject reads well in an inbox, the
 * body is plain text, and severity, kind and licenceId are message attributes for subscription filters.
 */
export function snsNotifier(client: SNSClient, topicArn: string): Notifier {
  return {
    async send(alert: Alert) {
      await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: asciiSubject(alert.title),
          Message: alert.body,
          MessageAttributes: {
            severity: { DataType: "String", StringValue: alert.severity },
            kind: { DataType: "String", StringValue: alert.kind },
            licenceId: { DataType: "String", StringValue: alert.licenceId ?? "none" },
            night: { DataType: "String", StringValue: alert.night },
          },
        }),
      );
    },
  };
}

/** SNS subjects are printable ASCII without line breaks; the body keeps every name as written. */
function asciiSubject(title: string): string {
  return title.replace(/[^\x20-\x7e]/g, "?").slice(0, 99);
}
