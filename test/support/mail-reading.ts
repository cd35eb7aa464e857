import { daysBetween } from "../../shared/domain/dates.ts";
import type { OutboxLine } from "./watcher.ts";

/**
 * Reading mails as a billing team would, line by line: what each says about a licence's fate, and every
 * day count beside the date it counts to. Shared by the whole-year replay test and smaller nights.
 */

/** One statement about one licence's renewal, on a night. */
export interface FateSaid {
  night: string;
  licenceId: string;
  says: "renews automatically" | "cannot be renewed";
  where: string;
}

const FATE = /\b(renews automatically|cannot be renewed)\b/;

/**
 * Every fate statement in a mail: a licence alert's "Renewal:" and heading lines speak of its licence;
 * any line that names a licence by "(id N" speaks of that one.
 */
export function fateStatements(mail: OutboxLine): FateSaid[] {
  const found: FateSaid[] = [];
  const said = (licenceId: string, text: string) => {
    const m = FATE.exec(text);
    if (m) found.push({ night: mail.night, licenceId, says: m[1] as FateSaid["says"], where: text.trim() });
  };
  if (mail.licenceId) {
    said(mail.licenceId, mail.subject);
    for (const line of mail.body.split("\n")) if (line.startsWith("Renewal:")) said(mail.licenceId, line);
  }
  for (const line of mail.body.split("\n")) {
    const id = /\(id (\d+)\b/.exec(line)?.[1];
    if (id && !line.startsWith("Licence:")) said(id, line);
  }
  return found;
}

/**
 * Licences told "cannot be renewed" and, on the same night or later, "renews automatically": each is a
 * contradiction a reader would catch.
 */
export function fateContradictions(mails: OutboxLine[]): string[] {
  const statements = mails.flatMap(fateStatements);
  const firstCannot = new Map<string, FateSaid>();
  for (const s of statements) {
    const seen = firstCannot.get(s.licenceId);
    if (s.says === "cannot be renewed" && (!seen || s.night < seen.night)) firstCannot.set(s.licenceId, s);
  }
  return statements
    .filter((s) => {
      const cannot = firstCannot.get(s.licenceId);
      return s.says === "renews automatically" && cannot !== undefined && s.night >= cannot.night;
    })
    .map((s) => {
      const cannot = firstCannot.get(s.licenceId) as FateSaid;
      return `licence ${s.licenceId}: "${cannot.where}" (${cannot.night}) but "${s.where}" (${s.night})`;
    });
}

/** A day count and the date it names, as written: "in 17 days (2021-06-15)", "2021-06-07 (in 6 days)". */
const COUNTS: Array<{
  pattern: RegExp;
  days: (m: RegExpExecArray) => number;
  date: (m: RegExpExecArray) => string;
}> = [
  {
    pattern: /\bin (\d+) days? \((\d{4}-\d{2}-\d{2})\)/g,
    days: (m) => Number(m[1]),
    date: (m) => m[2] as string,
  },
  { pattern: /\btomorrow \((\d{4}-\d{2}-\d{2})\)/g, days: () => 1, date: (m) => m[1] as string },
  { pattern: /\btoday \((\d{4}-\d{2}-\d{2})\)/g, days: () => 0, date: (m) => m[1] as string },
  { pattern: /\byesterday \((\d{4}-\d{2}-\d{2})\)/g, days: () => -1, date: (m) => m[1] as string },
  {
    pattern: /\b(\d+) days? ago \((\d{4}-\d{2}-\d{2})\)/g,
    days: (m) => -Number(m[1]),
    date: (m) => m[2] as string,
  },
  {
    pattern: /(\d{4}-\d{2}-\d{2}) \((?:in (\d+) days?|(tomorrow)|(today))\)/g,
    days: (m) => (m[2] ? Number(m[2]) : m[3] ? 1 : 0),
    date: (m) => m[1] as string,
  },
];

/**
 * Every day count in a mail (subject and body), checked against the distance from its night to the date
 * it names: how many were checked, and the wrong ones.
 */
export function dayCounts(mail: OutboxLine): { checked: number; wrong: string[] } {
  const wrong: string[] = [];
  let checked = 0;
  for (const text of [mail.subject, mail.body]) {
    for (const { pattern, days, date } of COUNTS) {
      for (const m of text.matchAll(pattern)) {
        checked++;
        const actual = daysBetween(mail.night, date(m as RegExpExecArray));
        if (actual !== days(m as RegExpExecArray))
          wrong.push(`${mail.night} "${m[0]}": ${actual} days from the night`);
      }
    }
  }
  // A count written some other way ("in 3 days" with no date) cannot be checked: none may exist.
  const loose = [mail.subject, mail.body].flatMap((t) => [
    ...t.matchAll(/(?<!\d{4}-\d{2}-\d{2} \()\bin \d+ days?\b(?! \(\d{4})/g),
  ]);
  for (const m of loose) {
    // The summary's subject names its window ("5 expire in 30 days"); its body gives the window's last day.
    const window = mail.kind === "summary" && m.input === mail.subject && /expire in \d+ days$/.test(m.input);
    if (!window) wrong.push(`${mail.night} "${m[0]}" names no date`);
  }
  return { checked, wrong };
}

/** Wording a reader should never meet: "(s)" plurals, placeholders, raw kind names, template leftovers. */
export function wordingFaults(mail: OutboxLine): string[] {
  const text = `${mail.subject}\n${mail.body}`;
  const faults: string[] = [];
  if (/\w\(s\)/.test(text)) faults.push('a "(s)" plural');
  if (/\{[a-zA-Z]+\}/.test(text)) faults.push("a {placeholder}");
  if (/\b(undefined|null|NaN|\[object Object\])\b/.test(text.replace(/"autoRenew": null/g, "")))
    faults.push("a template leftover (undefined, null, NaN)");
  if (/\b[a-z]+_[a-z_]+\b/.test(text.replace(/Idempotency-Key|[a-z]+_[a-z]+@/g, "")))
    faults.push(`a raw name: ${/\b[a-z]+_[a-z_]+\b/.exec(text)?.[0]}`);
  if (!/^[\x20-\x7e\u00a0-\uffff]{1,99}$/.test(mail.subject))
    faults.push("a subject over 99 characters or with a line break");
  return faults;
}

/** The outbox as one text, night by night, for a golden file a reviewer reads. */
export function renderOutbox(mails: OutboxLine[]): string {
  const sorted = [...mails].sort(
    (a, b) =>
      a.night.localeCompare(b.night) ||
      (a.kind === "summary" ? 1 : 0) - (b.kind === "summary" ? 1 : 0) ||
      a.kind.localeCompare(b.kind) ||
      a.subject.localeCompare(b.subject),
  );
  return sorted
    .map(
      (m) =>
        `===== ${m.night} ${m.severity} ${m.kind}\nSubject: ${m.subject}\n\n${stableKeys(m.body.trimEnd())}\n`,
    )
    .join("\n");
}

/** Licence keys are the sandbox's random ones: shown as such, so the golden text is the same each run. */
function stableKeys(body: string): string {
  return body.replace(/^(Key: +)[0-9a-f]{20}$/gm, "$1<the licence key, as the vendor issued it>");
}
