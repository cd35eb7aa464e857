import type { Alert } from "./alerts.ts";

/** Where alerts go: SNS e-mail in AWS, a local outbox file on a laptop, an array in tests. */
export interface Notifier {
  send(alert: Alert): Promise<void>;
}
