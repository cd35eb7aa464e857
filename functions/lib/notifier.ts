import { SNSClient } from "@aws-sdk/client-sns";
import { outboxNotifier } from "../../shared/adapters/outbox-notifier.ts";
import { snsNotifier } from "../../shared/adapters/sns-notifier.ts";
import type { Notifier } from "../../shared/domain/ports/notifier.ts";

/** Where alerts go: the SNS topic in AWS, the local outbox file on a laptop. Built once per container. */
export function alertNotifier(topicArn: string | undefined): Notifier {
  if (topicArn) return snsNotifier(new SNSClient({}), topicArn);
  if (process.env.OUTBOX_FILE) return outboxNotifier(process.env.OUTBOX_FILE);
  throw new Error("no alert destination: set ALERT_TOPIC_ARN (SNS) or, locally, OUTBOX_FILE");
}
