import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Alert } from "../domain/alerts/alerts.ts";
import type { Notifier } from "../domain/ports/notifier.ts";

/** Local stand-in for the alert topic: one JSON line per alert in the outbox file, and a line on the console. */
export function outboxNotifier(
  file: string,
  print: (line: string) => void = (line) => console.log(line),
): Notifier {
  return {
    async send(alert: Alert) {
      await mkdir(dirname(file), { recursive: true });
      const line = {
        subject: alert.title,
        body: alert.body,
        severity: alert.severity,
        kind: alert.kind,
        licenceId: alert.licenceId ?? null,
        night: alert.night,
      };
      await appendFile(file, `${JSON.stringify(line)}\n`);
      print(`  alert [${alert.severity}] ${alert.title}`);
    },
  };
}
