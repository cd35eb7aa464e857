import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { Alert } from "../domain/alerts/alerts.ts";
import type { Notifier } from "../domain/ports/notifier.ts";

/**
 * Alerts as SNS messages to the staff's e-mail subscriptions: the subject reads well in an inbox, the
 * body is plain text, and severity, kind and licenceId are message attributes for subscription filters.
 */
export function snsNotifier(client: SNSClient, topicArn: string): Notifier {
  return {
    async send(alert: Alert) {
      const bytes = Buffer.byteLength(alert.body, "utf8");
      // SNS refuses a message over 256 KiB (body and attributes together): say so plainly, not as an SDK error.
      if (bytes > SNS_BODY_MAX_BYTES) {
        throw new Error(
          `the mail is ${bytes.toLocaleString("en-US")} bytes, over the ${SNS_BODY_MAX_BYTES.toLocaleString("en-US")} SNS takes`,
        );
      }
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

/** SNS's 262,144-byte limit less room for the subject and message attributes. */
export const SNS_BODY_MAX_BYTES = 260_000;

/** SNS subjects are printable ASCII without line breaks; the body keeps every name as written. */
function asciiSubject(title: string): string {
  return title.replace(/[^\x20-\x7e]/g, "?").slice(0, 99);
}
