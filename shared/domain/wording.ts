import { daysBetween, type IsoDate } from "./dates.ts";

/** "1 month", "12 months", "1 licence", "3 licences". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export const months = (n: number) => count(n, "month");

/**
 * How far a date is from the night, counted from the two dates: "today (2021-05-20)", "tomorrow
 * (2021-05-21)", "in 17 days (2021-06-15)", "2 days ago (2021-05-18)". Every day count staff read is
 * made here, so none can disagree with the date beside it.
 */
export function fromNight(night: IsoDate, date: IsoDate): string {
  const left = daysBetween(night, date);
  if (left === 0) return `today (${date})`;
  if (left === 1) return `tomorrow (${date})`;
  if (left === -1) return `yesterday (${date})`;
  return left > 0 ? `in ${count(left, "day")} (${date})` : `${count(-left, "day")} ago (${date})`;
}

/**
 * An API call inside a sentence: marked, so the mail says the step in words where the sentence stands
 * and gives the call itself on a "How:" line at the end (`howLines`). Private-use characters: no vendor
 * or licence text carries them.
 */
const OPEN = "\uE000";
const SEP = "\uE001";
const CLOSE = "\uE002";
const call = (what: string, text: string) => `${OPEN}${what}${SEP}${text}${CLOSE}`;
const CALLS = new RegExp(`${OPEN}([^${SEP}]*)${SEP}([^${CLOSE}]*)${CLOSE}`, "g");

/** The API calls staff are told to make, with the licence filled in, each named by what it does. */
export const api = {
  renew: (id: string, period: number) =>
    call(
      `renew licence ${id} by hand`,
      `POST /licenses/${id}/renew with {"period": ${period}} and a new Idempotency-Key`,
    ),
  resume: (id: string) => call(`resume licence ${id}`, `POST /licenses/${id}/resume`),
  successor: (id: string, period: number) =>
    call(
      `order the successor of licence ${id}`,
      `POST /licenses/${id}/successor with {"period": ${period}} and a new Idempotency-Key`,
    ),
  autoRenewOff: (id: string) =>
    call(`switch automatic renewal of licence ${id} off`, `PATCH /licenses/${id} with {"autoRenew": null}`),
  autoRenewOn: (id: string, period: number) =>
    call(`have the watcher renew licence ${id}`, `PATCH /licenses/${id} with {"autoRenew": ${period}}`),
  dropPlan: (id: string) =>
    call(`drop the successor plan of licence ${id}`, `PATCH /licenses/${id} with {"successor": null}`),
  refresh: (id: string) =>
    call(`read licence ${id} again from the vendor`, `GET /licenses/${id}?refresh=true`),
  key: (id: string) => call(`read licence ${id}'s key`, `GET /licenses/${id}`),
  remove: (id: string) => call(`delete licence ${id}`, `DELETE /licenses/${id}`),
  order: (product: { id: string; title: string }) =>
    call(
      `order ${product.title}`,
      `POST /licenses with {"product": "${product.id}", ...} and a new Idempotency-Key`,
    ),
  successorOfAny: () =>
    call(
      "order a licence's successor",
      `POST /licenses/<its id>/successor with {"period": 12} and a new Idempotency-Key`,
    ),
  renewAny: () =>
    call(
      "renew a licence by hand",
      `POST /licenses/<its id>/renew with {"period": 12} and a new Idempotency-Key`,
    ),
  autoRenewOnAny: () =>
    call("have the watcher renew a licence", `PATCH /licenses/<its id> with {"autoRenew": 12}`),
  planOfAny: () =>
    call(
      "plan a licence's successor for the watcher to order",
      `PATCH /licenses/<its id> with {"successor": {"period": 12}}`,
    ),
  settle: (client: string, key: string) =>
    call(
      "settle the outcome",
      `POST /outcomes/${encodeURIComponent(key)} with {"client": ${JSON.stringify(client)}, "outcome": "applied" or "not_applied", "reason": "<what the panel shows>"} (an operator's token)`,
    ),
};

/**
 * A text with its marked calls taken out: the words as they read (a call in brackets, or after a
 * colon, leaves the sentence around it), and the calls, in order, for the "How:" lines.
 */
export function splitCalls(text: string): { words: string; calls: Array<{ what: string; call: string }> } {
  const calls: Array<{ what: string; call: string }> = [];
  for (const match of text.matchAll(CALLS)) {
    const entry = { what: match[1] as string, call: match[2] as string };
    if (!calls.some((c) => c.call === entry.call)) calls.push(entry);
  }
  const words = text
    .replace(new RegExp(` \\((?:through the desk, )?${CALLS.source}\\)`, "g"), "")
    .replace(new RegExp(`: ${CALLS.source}`, "g"), "")
    .replace(CALLS, "")
    .replace(/ {2,}/g, " ")
    .replace(/ ([,;.])/g, "$1");
  return { words, calls };
}

/** The "How:" lines of a mail: each call on its own line, after what it does; none without calls. */
export function howLines(calls: ReadonlyArray<{ what: string; call: string }>, indent = ""): string[] {
  if (calls.length === 0) return [];
  return [`${indent}How, through the desk's API:`, ...calls.map((c) => `${indent}- ${c.what}: ${c.call}`)];
}
