import { addMonths, daysBetween } from "../../shared/domain/dates.ts";
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

/** The outbox back from its golden text (`renderOutbox`'s inverse, licence keys as rendered). */
export function parseOutbox(text: string): OutboxLine[] {
  return text
    .split(/^(?====== )/m)
    .filter((chunk) => chunk.trim() !== "")
    .map((chunk) => {
      const m = /^===== (\S+) (\S+) (\S+)\nSubject: (.*)\n\n([\s\S]*)$/.exec(chunk);
      if (!m) throw new Error(`not a mail: ${chunk.slice(0, 80)}`);
      const body = (m[5] as string).trimEnd();
      return {
        night: m[1] as string,
        severity: m[2] as string,
        kind: m[3] as string,
        subject: m[4] as string,
        body,
        licenceId: /^Licence: +.* \(id (\d+)\)$/m.exec(body)?.[1] ?? null,
      };
    });
}

/*
 * The rules a head of operations reads the outbox by. Each returns the faults it found, and how many
 * things it read: a rule that read nothing proves nothing.
 */

/** What a rule read, and what it found wrong. */
export interface Reading {
  checked: number;
  faults: string[];
}

const DAY = String.raw`\d{4}-\d{2}-\d{2}`;
const MONEY = String.raw`[\d,]+\.\d\d [A-Z]{3}`;

/** "1,230.00 EUR" in cents: sums of money are compared exactly. */
export function centsOf(money: string): number {
  const m = /([\d,]+)\.(\d\d)/.exec(money);
  return m ? Number((m[1] as string).replace(/,/g, "")) * 100 + Number(m[2]) : Number.NaN;
}

/** The money a pattern's "MONEY" stands for ("holds MONEY"), in cents; NaN where the text has none. */
function amount(text: string, pattern: string): number {
  return centsOf(new RegExp(pattern.replace("MONEY", `(${MONEY})`)).exec(text)?.[1] ?? "");
}

const eur = (cents: number) => `${(cents / 100).toFixed(2)} EUR`;
const at = (mail: OutboxLine) => `${mail.night} ${mail.kind}`;
const indentOf = (line: string) => line.length - line.trimStart().length;

/** The lines right after `lines[i]` indented deeper than `indent`: a list's items, or an item's own. */
function nestedAfter(lines: string[], i: number, indent: number): string[] {
  const nested: string[] = [];
  for (const line of lines.slice(i + 1)) {
    if (line.trim() === "" || indentOf(line) <= indent) break;
    nested.push(line);
  }
  return nested;
}

/** The product a line speaks of: one it names, else the mail's own (its Product: line, or its subject's). */
function productOf(mail: OutboxLine, line: string): string | undefined {
  return (
    /ISPmanager \d+ [A-Z][a-z]+/.exec(line)?.[0] ??
    /^Product: +(ISPmanager \d+ [A-Z][a-z]+)/m.exec(mail.body)?.[1] ??
    /^\[licence desk\] (ISPmanager \d+ [A-Z][a-z]+):/.exec(mail.subject)?.[1]
  );
}

/** "to 2021-12-31 (the last day ISPmanager 5 Lite allows), 60.00 EUR for 12 months", or "A -> B, ...". */
const RENEWAL = new RegExp(
  String.raw`(?:(${DAY}) -> |\bto )(${DAY})( \(the last day [^)]* allows\))?, (${MONEY}) for (\d+) months?\b`,
  "g",
);

/**
 * Rule 1, the real end: every renewal a mail tells, done or planned, says where it leads and what it
 * costs; one that ends before its start plus the months paid says why on the same line (the product's
 * last day), and one whose start the line gives never ends later. Where the line gives no start, the
 * night the renewal is (or was first) tried stands in: a renewal never starts before it.
 */
export function realEnd(mail: OutboxLine): Reading {
  const faults: string[] = [];
  let checked = 0;
  const expires = new RegExp(`^Expires: +(${DAY})$`, "m").exec(mail.body)?.[1];
  const failedOn = new RegExp(`had failed on (${DAY})`).exec(mail.body)?.[1];
  let inDueList = false;
  for (const line of mail.body.split("\n")) {
    // A low-balance mail's list of what falls due: its renewals are planned renewals too.
    if (/^\S.*due, in date order:$/.test(line)) {
      inDueList = true;
      continue;
    }
    if (indentOf(line) === 0) inDueList = false;
    const told =
      /renews automatically|renewed it tonight/.test(line) ||
      new RegExp(String.raw`(?:${DAY}|\?) -> `).test(line) ||
      (inDueList && line.trim() !== "" && !/successor/.test(line));
    if (!told) continue;
    const found = [...line.matchAll(RENEWAL)];
    if (found.length === 0)
      faults.push(`${at(mail)}: a renewal that names no end or no price: "${line.trim()}"`);
    for (const m of found) {
      checked++;
      const end = m[2] as string;
      const capped = m[3] !== undefined;
      const months = Number(m[5]);
      const start = startOf(line, m, { night: mail.night, expires, failedOn });
      const full = addMonths(start.date, months);
      const why = `${months} months from ${start.date}${start.exact ? "" : " at the earliest"} run to ${full}`;
      if (end < full && !capped)
        faults.push(`${at(mail)}: ends ${end} with no word why (${why}): "${line.trim()}"`);
      else if (start.exact && end > full)
        faults.push(`${at(mail)}: ends ${end}, later than paid for (${why}): "${line.trim()}"`);
      else if (start.exact && capped && end >= full)
        faults.push(`${at(mail)}: says capped, yet runs the whole period (${why}): "${line.trim()}"`);
    }
  }
  return { checked, faults };
}

/**
 * Where a told renewal starts (the expiry it extends, as the vendor counts): given on its line, or the
 * earliest it can be. A renewal is tried on or before that expiry, so the night it is due, or first
 * failed, is no later; a renewal tried only after a licence lapsed would break that, and be reported.
 */
function startOf(
  line: string,
  m: RegExpExecArray | RegExpMatchArray,
  mail: { night: string; expires: string | undefined; failedOn: string | undefined },
): { date: string; exact: boolean } {
  if (m[1]) return { date: m[1], exact: true };
  if (line.startsWith("Renewal:") && mail.expires) return { date: mail.expires, exact: true };
  const listed = new RegExp(String.raw`^\s+(${DAY})  \S`).exec(line)?.[1];
  if (listed) return { date: listed, exact: true };
  const on = new RegExp(String.raw`renews automatically [^:]*\((${DAY})\):`).exec(line)?.[1];
  if (on) return { date: on, exact: false };
  if (/renewed it tonight/.test(line)) return { date: mail.failedOn ?? mail.night, exact: false };
  return { date: mail.night, exact: false };
}

/**
 * Rule 2, the top-up covers it all: a low-balance mail asks for the listed items' sum less the balance
 * held, that is the shortfall its subject names; a summary's balance line does the same sum; every
 * balance is the one after tonight's charges.
 */
export function topUpCovers(mail: OutboxLine): Reading {
  const faults: string[] = [];
  let checked = 0;
  const lines = mail.body.split("\n");
  const fault = (what: string) => faults.push(`${at(mail)} "${mail.subject}": ${what}`);
  const afterCharges = (line: string) => {
    if (!/after tonight's charges/i.test(line))
      fault(`a balance not said to be after tonight's charges: "${line}"`);
  };
  if (mail.kind === "low_balance") {
    checked++;
    const heldLine = lines.find((l) => new RegExp(String.raw`\bholds ${MONEY}`).test(l)) ?? "";
    afterCharges(heldLine);
    const held = amount(heldLine, "holds MONEY");
    const total = amount(mail.body, "cost MONEY at catalogue prices");
    const more = amount(mail.body, "MONEY more than the balance");
    const asked = amount(mail.body, "top up [^.;]*?by at least MONEY");
    const short = amount(mail.subject, "short by MONEY");
    const said = Number(/^The ([\d,]+) /m.exec(mail.body)?.[1]?.replace(/,/g, "") ?? Number.NaN);
    const head = lines.findIndex((l) => /due, in date order:$/.test(l));
    const items = head < 0 ? [] : nestedAfter(lines, head, 0);
    const sum = items.reduce((n, l) => n + amount(l, "MONEY"), 0);
    if ([held, total, more, asked, short].some(Number.isNaN))
      fault("a balance, total, shortfall or top-up it does not state");
    if (items.length !== said) fault(`says ${said} due, lists ${items.length}`);
    if (sum !== total) fault(`the items listed add up to ${eur(sum)}, the mail says ${eur(total)}`);
    if (total - held !== asked)
      fault(`asks ${eur(asked)}, but ${eur(total)} due less ${eur(held)} held is ${eur(total - held)}`);
    if (more !== asked) fault(`says ${eur(more)} more than the balance, asks ${eur(asked)}`);
    if (short !== asked) fault(`its subject says short by ${eur(short)}, it asks ${eur(asked)}`);
  }
  for (const line of lines.filter((l) => /^Balance: [\d,]/.test(l))) {
    checked++;
    afterCharges(line);
    const held = centsOf(line);
    const due = amount(line, "MONEY in all");
    if (/does not cover/.test(line)) {
      const short = amount(line, "short by MONEY");
      if (due - held !== short)
        fault(`short by ${eur(short)}, but ${eur(due)} due less ${eur(held)} held is ${eur(due - held)}`);
      const topUp = amount(mail.subject, "top up MONEY");
      if (topUp !== short)
        fault(`its subject asks a top-up of ${eur(topUp)}, its body is short by ${eur(short)}`);
    } else if (/\bcovers\b/.test(line) && !(held >= due)) fault(`says ${eur(held)} covers ${eur(due)}`);
  }
  if (mail.kind === "balance_covered") {
    checked++;
    const line = lines.find((l) => /\bholds\b/.test(l)) ?? "";
    afterCharges(line);
    const held = amount(line, "holds MONEY");
    const due = amount(line, String.raw`\(MONEY at catalogue prices\)`);
    if (!(held >= due)) fault(`says ${eur(held)} is enough for ${eur(due)}`);
  }
  return { checked, faults };
}

const DOWN = new RegExp(String.raw`\b(?:suspended (?:by the vendor )?since|expired on) ${DAY}`);
const NOTHING = /^What to do: nothing\b/i;
/** Kinds that tell what happened and ask nothing: never critical. */
const ONLY_INFORMS = new Set([
  "balance_covered",
  "renewal_recovered",
  "successor_ordered",
  "licence_retired",
]);

/**
 * Rule 3, down is never nothing: every licence a mail shows down (suspended, or expired) has advice
 * that applies to it, its own indented "What to do" or the mail's; advice that starts "Nothing" names it.
 * And a critical mail asks for something: critical means staff must act.
 */
export function downNeverNothing(mail: OutboxLine): { down: number; critical: number; faults: string[] } {
  const faults: string[] = [];
  const lines = mail.body.split("\n");
  const mailAdvice = lines.find((l) => l.startsWith("What to do:"));
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    if (!DOWN.test(line)) return;
    const who = downOne(mail, line);
    if (!who || seen.has(who.key)) return;
    seen.add(who.key);
    const own = nestedAfter(lines, i, indentOf(line)).find((l) => l.trim().startsWith("What to do:"));
    const advice = (own ?? mailAdvice)?.trim();
    if (!advice) faults.push(`${at(mail)}: ${who.key} is down and nothing says what to do: "${line.trim()}"`);
    else if (NOTHING.test(advice) && !who.names.some((n) => advice.includes(n)))
      faults.push(`${at(mail)} "${mail.subject}": ${who.key} is down ("${line.trim()}"), yet "${advice}"`);
  });
  const critical = mail.severity === "critical" ? 1 : 0;
  if (critical && ONLY_INFORMS.has(mail.kind))
    faults.push(`${at(mail)} "${mail.subject}": critical, but it only informs`);
  else if (critical && !lines.some((l) => /^\s*What to do: \S/.test(l) && !NOTHING.test(l.trim())))
    faults.push(`${at(mail)} "${mail.subject}": critical, with nothing for staff to do`);
  return { down: seen.size, critical, faults };
}

/** The licence a down line speaks of, by the names a piece of advice would use for it. */
function downOne(mail: OutboxLine, line: string): { key: string; names: string[] } | undefined {
  const listed = /^\s*(?:- )?(?:\d{4}-\d{2}-\d{2}\s+)?(\S+) \(id (\d+)[,)]/.exec(line);
  if (listed) return { key: `licence ${listed[2]}`, names: [listed[1] as string, listed[2] as string] };
  const reminded = /^\s*Still down after \d+ days?: (\S+) \(/.exec(line);
  if (reminded) return { key: reminded[1] as string, names: [reminded[1] as string] };
  if (mail.licenceId) {
    const name = /^Licence: +(\S+) \(id/m.exec(mail.body)?.[1];
    return { key: `licence ${mail.licenceId}`, names: name ? [name, mail.licenceId] : [mail.licenceId] };
  }
  return undefined;
}

/** A product as the catalogue gives it: enough to know when it can no longer be ordered. */
export interface SoldProduct {
  id: string;
  title: string;
  lifecycle: { salesCloseOn?: string };
}

/**
 * Rule 4, advice that can be followed on its day: from a product's sales close, no mail advises ordering
 * it (in words, by its order call, or by its id in an order's body); and no night tells a product both
 * "not affected" and "cannot be renewed".
 */
export function possibleAdvice(
  mails: OutboxLine[],
  products: readonly SoldProduct[],
): { orders: number; cannot: number; faults: string[] } {
  const faults: string[] = [];
  let orders = 0;
  let cannot = 0;
  const said = new Map<string, { cannot?: string; notAffected?: string }>();
  for (const mail of mails) {
    for (const line of mail.body.split("\n")) {
      for (const product of orderedIn(mail, line, products)) {
        orders++;
        const close = product.lifecycle.salesCloseOn;
        if (close !== undefined && mail.night >= close)
          faults.push(
            `${at(mail)} "${mail.subject}": advises ordering ${product.title}, whose sales closed on ${close}: "${line.trim()}"`,
          );
      }
      for (const [pattern, key] of [
        [/cannot be renewed/, "cannot"],
        [/not affected/, "notAffected"],
      ] as const) {
        const product = pattern.test(line) ? productOf(mail, line) : undefined;
        if (!product) continue;
        if (key === "cannot") cannot++;
        const entry = said.get(`${mail.night} ${product}`) ?? {};
        entry[key] ??= line.trim();
        said.set(`${mail.night} ${product}`, entry);
      }
    }
  }
  for (const [nightProduct, { cannot: c, notAffected: n }] of said)
    if (c && n) faults.push(`${nightProduct}: "${n}", yet "${c}"`);
  return { orders, cannot, faults };
}

/**
 * The products a line advises ordering: its words ("order ... ISPmanager 5 Lite"), its order call
 * (POST /licenses, of the product named nearest before it, else the mail's), an order's "product" field.
 */
function orderedIn(mail: OutboxLine, line: string, products: readonly SoldProduct[]): SoldProduct[] {
  const found = new Set<SoldProduct>();
  const named = (text: string) =>
    products
      .map((p) => ({ p, at: Math.max(text.lastIndexOf(p.title), text.lastIndexOf(p.id)) }))
      .filter((x) => x.at >= 0)
      .sort((a, b) => b.at - a.at)[0]?.p;
  // "an order or a renewal of", "no new orders": an order spoken of, not advised.
  for (const m of line.matchAll(/(?<!\b(?:an|a|the|no|new|its|this|that|each) )\b[Oo]rder\b([^.;:()]*)/g)) {
    const p = named(m[1] as string);
    if (p) found.add(p);
  }
  // An order call's product: named before it, else in its own "product" field (read below), else the mail's.
  const field = /"product": "([a-z0-9-]+)"/.test(line);
  for (const m of line.matchAll(/\bPOST \/licenses\b(?!\/)/g)) {
    const before = line.slice(0, m.index);
    const p = named(before) ?? (field ? undefined : products.find((x) => x.title === productOf(mail, "")));
    if (p) found.add(p);
  }
  for (const m of line.matchAll(/"product": "([a-z0-9-]+)"/g)) {
    const p = products.find((x) => x.id === m[1]);
    if (p) found.add(p);
  }
  return [...found];
}

/**
 * Rule 5, the subject carries the worst: a summary short of money says "top up" in its subject, and
 * counts there what failed, renewed, is down or expires, as its sections count them; no subject counts
 * zero; no section is empty or says only "none"; a section's count is the lines it lists.
 */
export function subjectCarriesWorst(mail: OutboxLine): Reading {
  const faults: string[] = [];
  let checked = 0;
  const fault = (what: string) => faults.push(`${at(mail)} "${mail.subject}": ${what}`);
  checked++;
  if (/(?<![\d.,-])\b0 [a-z]/.test(mail.subject)) fault("its subject counts zero");
  const lines = mail.body.split("\n");
  lines.forEach((line, i) => {
    if (/^\s*(?:- )?none\.?$/i.test(line) || /^[^:]+:\s*none\.?$/i.test(line))
      fault(`a section that says only none: "${line}"`);
    const head = /^(\S.*?) \(([\d,]+)\)(?:,[^:]*)?:(.*)$/.exec(line);
    if (!head) return;
    checked++;
    const count = Number((head[2] as string).replace(/,/g, ""));
    if (count === 0) fault(`an empty section: "${line}"`);
    const inline = (head[3] as string).trim();
    const items = nestedAfter(lines, i, 0);
    const shown = items.filter((l) => indentOf(l) === 2 && !l.trimStart().startsWith("…")).length;
    const more = items.reduce(
      (n, l) => n + Number(/^\s*… and ([\d,]+) more/.exec(l)?.[1]?.replace(/,/g, "") ?? 0),
      0,
    );
    const listed = inline
      ? [...inline.matchAll(/\b(\d+) /g)].reduce((n, m) => n + Number(m[1]), 0)
      : shown + more;
    if (listed !== count) fault(`"${line}" counts ${count}, lists ${listed}`);
  });
  if (mail.kind !== "summary") return { checked, faults };
  const section = (heading: RegExp) =>
    Number(
      lines
        .map((l) => heading.exec(l)?.[1])
        .find((n) => n !== undefined)
        ?.replace(/,/g, "") ?? 0,
    );
  if (/does not cover/.test(mail.body) && !/\btop up\b/.test(mail.subject))
    fault('the balance "does not cover", its subject asks no top-up');
  for (const [heading, inSubject] of [
    [/^Failed \(([\d,]+)\):/, /\b(\d+) failed\b/],
    [/^Renewed \(([\d,]+)\):/, /\b(\d+) renewed\b/],
    [/^Still down[^(]*\(([\d,]+)\):/, /\b(\d+) licences? down\b/],
    [/^Expiring in the next[^(]*\(([\d,]+)\):/, /\b(\d+) expire in\b/],
  ] as const) {
    checked++;
    const body = section(heading);
    const subject = Number(inSubject.exec(mail.subject)?.[1] ?? 0);
    if (body !== subject) fault(`its body counts ${body} under ${heading.source}, its subject ${subject}`);
  }
  return { checked, faults };
}

/**
 * Rule 6, the sync line names what it counts: each licence new, changed or gone is named "(id N)"
 * (or "licence N"), all of them or the first with "and N more".
 */
export function syncNames(mail: OutboxLine): Reading {
  if (mail.kind !== "summary") return { checked: 0, faults: [] };
  const line = /^Sync: .*$/m.exec(mail.body)?.[0];
  if (!line) return { checked: 0, faults: [`${at(mail)} "${mail.subject}": a summary with no Sync line`] };
  const faults: string[] = [];
  let checked = 0;
  const clauses = line.replace(/\.$/, "").split("; ").slice(1);
  for (const clause of clauses) {
    if (clause === "nothing new, changed or gone") continue;
    const m = /^([\d,]+) (new|changed at the vendor|gone from its list)\b(.*)$/.exec(clause);
    if (!m) {
      faults.push(`${at(mail)}: a sync clause not read: "${clause}"`);
      continue;
    }
    checked++;
    const count = Number((m[1] as string).replace(/,/g, ""));
    const names = [...(m[3] as string).matchAll(/\(id \d+\)|\blicence \d+\b/g)].length;
    const more = Number(/ and ([\d,]+) more\b/.exec(m[3] as string)?.[1]?.replace(/,/g, "") ?? 0);
    if (names === 0) faults.push(`${at(mail)}: "${clause}" names no licence`);
    else if (names + more !== count)
      faults.push(`${at(mail)}: "${clause}" counts ${count}, names ${names + more}`);
  }
  return { checked, faults };
}

/**
 * Rule 7, one mail per event: on one night, one lifecycle mail per product at most, and one "cannot be
 * renewed" mail per product at most (its licences listed in it).
 */
export function oneMailPerEvent(mails: OutboxLine[]): Reading {
  const groups = new Map<string, OutboxLine[]>();
  for (const mail of mails.filter((m) => m.kind === "lifecycle" || m.kind === "cannot_renew")) {
    const key = `${mail.night} ${mail.kind} ${productOf(mail, "") ?? mail.subject}`;
    groups.set(key, [...(groups.get(key) ?? []), mail]);
  }
  const faults = [...groups]
    .filter(([, group]) => group.length > 1)
    .map(([key, group]) => `${key}: ${group.length} mails: ${group.map((m) => `"${m.subject}"`).join(", ")}`);
  return { checked: groups.size, faults };
}

/** A call to the desk's API: "POST /licenses/7/renew". */
const API_CALL = /\b(?:GET|POST|PUT|PATCH|DELETE) \/[a-z]/;

/**
 * Rule 8, sentences in words: prose never uses field names as words ("autoRenew is", "Now:", a field in
 * camelCase, "The register keeps", "a new Idempotency-Key") nor gives an API call; those belong on a
 * "How:" line, or in a "How, through the desk's API:" block's "- " lines.
 */
export function fieldNames(mail: OutboxLine): { prose: number; api: number; faults: string[] } {
  const faults: string[] = [];
  let prose = 0;
  let api = 0;
  let block: number | undefined;
  for (const line of mail.body.split("\n")) {
    const indent = indentOf(line);
    const text = line.trim();
    if (block !== undefined && indent === block && text.startsWith("- ")) {
      api++;
      continue;
    }
    block = undefined;
    if (/^How\b[^:]*:/.test(text)) {
      block = indent;
      if (/^How:/.test(text)) api++;
      continue;
    }
    if (text === "") continue;
    prose++;
    // Quoted text is the vendor's or a value ("300.00 EUR", "now"), not prose.
    const words = text.replace(/"[^"]*"/g, '""');
    const faultsHere = [
      /\bautoRenew is\b/.test(words) && '"autoRenew is"',
      /(?:^|\s)Now:/.test(words) && '"Now:"',
      /\bThe register keeps\b/.test(words) && '"The register keeps"',
      /\ba new Idempotency-Key\b/.test(words) && '"a new Idempotency-Key"',
      /\b[a-z]+[A-Z][A-Za-z]*\b/.test(words) && `the field ${/\b[a-z]+[A-Z][A-Za-z]*\b/.exec(words)?.[0]}`,
      API_CALL.test(words) && `the API call ${API_CALL.exec(words)?.[0]}...`,
    ].filter((f): f is string => typeof f === "string");
    for (const f of faultsHere) faults.push(`${at(mail)} "${mail.subject}": ${f} in prose: "${text}"`);
  }
  return { prose, api, faults };
}
