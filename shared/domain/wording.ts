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

/** The API calls staff are told to make, with the licence filled in. */
export const api = {
  renew: (id: string, period: number) =>
    `POST /licenses/${id}/renew with {"period": ${period}} and a new Idempotency-Key`,
  resume: (id: string) => `POST /licenses/${id}/resume`,
  successor: (id: string, period: number) =>
    `POST /licenses/${id}/successor with {"period": ${period}} and a new Idempotency-Key`,
  autoRenewOff: (id: string) => `PATCH /licenses/${id} with {"autoRenew": null}`,
  autoRenewOn: (id: string, period: number) => `PATCH /licenses/${id} with {"autoRenew": ${period}}`,
  refresh: (id: string) => `GET /licenses/${id}?refresh=true`,
  settle: (client: string, key: string) =>
    `POST /outcomes/${encodeURIComponent(key)} with {"client": ${JSON.stringify(client)}, "outcome": "applied" or "not_applied", "reason": "<what the panel shows>"} (an operator's token)`,
};
