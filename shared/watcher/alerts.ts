import type { Product } from "../catalogue/index.ts";
import type { IsoDate } from "../dates.ts";
import type { LicenceRecord } from "../register/types.ts";

export type Severity = "info" | "warning" | "critical";

export type AlertKind =
  | "expiry"
  | "expired"
  | "cannot_renew"
  | "renewal_failed"
  | "renewal_unknown"
  | "renewal_blocked"
  | "vendor_suspended"
  | "vendor_deleted"
  | "lifecycle"
  | "low_balance"
  | "sync_failed"
  | "vendor_unreachable"
  | "order_settled"
  | "outcome_stale"
  | "summary";

/** One e-mail to staff. `subject`, `kind` and `threshold` together name it in the ledger: it goes out once. */
export interface Alert {
  kind: AlertKind;
  severity: Severity;
  /** At most 100 characters: SNS's limit, and what an inbox shows. */
  title: string;
  body: string;
  licenceId: string | undefined;
  night: IsoDate;
  ledger: { subject: string; threshold: string };
  /** A digest: the ledger entries (`subject|kind|threshold`) it carries, each sent once. */
  covers?: string[];
}

/** SNS takes subjects of fewer than 100 characters. */
const TITLE_MAX = 99;

function title(text: string): string {
  return text.length <= TITLE_MAX ? text : `${text.slice(0, TITLE_MAX - 3)}...`;
}

/** The lines every licence alert starts with, so staff can find it without looking anything up. */
function facts(licence: LicenceRecord, product: Product | undefined): string {
  return [
    `Licence:  ${licence.name} (id ${licence.id})`,
    `IP:       ${licence.ip}`,
    `Product:  ${product?.title ?? `pricelist ${licence.pricelist}`}${licence.nodes ? `, ${licence.nodes} nodes` : ""}`,
    `Status:   ${licence.status}`,
    `Expires:  ${licence.expiresOn ?? "unknown"}`,
    `Renewal:  ${licence.autoRenew ? `automatic, ${licence.autoRenew} month(s)` : "manual (autoRenew off)"}`,
  ].join("\n");
}

const label = (licence: LicenceRecord) => `${licence.name} (${licence.ip})`;

function licenceAlert(
  kind: AlertKind,
  severity: Severity,
  night: IsoDate,
  licence: LicenceRecord,
  product: Product | undefined,
  threshold: string,
  heading: string,
  paragraphs: string[],
): Alert {
  return {
    kind,
    severity,
    title: title(`[licence desk] ${heading}`),
    body: `${facts(licence, product)}\n\n${paragraphs.join("\n\n")}\n`,
    licenceId: licence.id,
    night,
    ledger: { subject: `licence:${licence.id}`, threshold },
  };
}

export const alerts = {
  expiry(
    night: IsoDate,
    licence: LicenceRecord,
    product: Product | undefined,
    days: number,
    renewable: boolean,
  ): Alert {
    const when = days === 0 ? "today" : days === 1 ? "tomorrow" : `in ${days} days`;
    return licenceAlert(
      "expiry",
      days <= 1 ? "critical" : days <= 3 ? "warning" : "info",
      night,
      licence,
      product,
      `${licence.expiresOn}:${days}`,
      `${label(licence)} expires ${when} (${licence.expiresOn})`,
      [
        `What happens next: the licence stops working after ${licence.expiresOn}; the vendor suspends it, then deletes it about 30 days later.`,
        renewable
          ? "What to do: renew it (POST /licenses/{id}/renew), or set autoRenew so the nightly watcher renews it."
          : "What to do: it can no longer be renewed; move the server to a licence that can.",
      ],
    );
  },

  expired(night: IsoDate, licence: LicenceRecord, product: Product | undefined): Alert {
    return licenceAlert(
      "expired",
      "critical",
      night,
      licence,
      product,
      `${licence.expiresOn}:expired`,
      `${label(licence)} has expired (${licence.expiresOn})`,
      [
        "What happens next: the vendor suspends an unpaid licence and deletes it about 30 days after it expired.",
        "What to do: renew it now if it is still needed.",
      ],
    );
  },

  cannotRenew(
    night: IsoDate,
    licence: LicenceRecord,
    product: Product | undefined,
    closedOn: string,
    endsOn: IsoDate,
  ): Alert {
    return licenceAlert(
      "cannot_renew",
      "critical",
      night,
      licence,
      product,
      `${endsOn}`,
      `${label(licence)} cannot be renewed: it ends ${endsOn}`,
      [
        `What happens next: ${product?.title ?? "this product"} renewals closed on ${closedOn}; the licence stops working after ${endsOn} and will not be renewed automatically.`,
        "What to do: plan the move to a product that is still sold (for ISPmanager 5: ISPmanager 6) before that day.",
      ],
    );
  },

  renewalFailed(night: IsoDate, licence: LicenceRecord, product: Product | undefined, reason: string): Alert {
    return licenceAlert(
      "renewal_failed",
      "critical",
      night,
      licence,
      product,
      // One per licence and night, whatever its expiry reads by then (a rerun may see it moved).
      night,
      `Renewal failed: ${label(licence)}`,
      [
        `The vendor's reason: ${reason}`,
        "What happens next: the watcher tries again on the next night while the licence can still be renewed.",
        "What to do: fix the cause (a low balance, most often), or renew it by hand.",
      ],
    );
  },

  renewalUnknown(night: IsoDate, licence: LicenceRecord, product: Product | undefined): Alert {
    return licenceAlert(
      "renewal_unknown",
      "warning",
      night,
      licence,
      product,
      night,
      `Renewal outcome unknown: ${label(licence)}`,
      [
        "The vendor did not confirm the renewal after it was sent, so it may or may not have been charged.",
        "What happens next: it is never sent again blindly; once the vendor has had time to act, the reconciler (or the next run) decides it from the vendor's exact expiry date and keeps the answer.",
        "What to do: nothing, unless a later summary still lists it; do not renew it by hand meanwhile, which could pay twice.",
      ],
    );
  },

  renewalBlocked(
    night: IsoDate,
    licence: LicenceRecord,
    product: Product | undefined,
    why: "suspended_by_desk" | "suspended_before_expiry" | "not_active",
    lapsed: boolean,
  ): Alert {
    const when = lapsed ? `expired ${licence.expiresOn}` : `expires ${licence.expiresOn}`;
    const reasons = {
      suspended_by_desk: [
        "Why: it was suspended through the desk (POST /licenses/{id}/suspend), and the watcher never renews a licence we suspended on purpose, whatever its autoRenew says.",
        "What to do: if it should run on, resume it (POST /licenses/{id}/resume): the next night renews it. If not, switch autoRenew off (PATCH /licenses/{id}) and let it end.",
      ],
      suspended_before_expiry: [
        "Why: the vendor's list shows it suspended before it expired, and not by us: suspended on purpose, by the reseller in the vendor's panel or by the vendor.",
        "What to do: check it in the vendor's panel; resume it there and it renews on the next night, or renew it by hand (POST /licenses/{id}/renew).",
      ],
      not_active: [
        `Why: its status is ${licence.status}: the vendor has not finished setting it up, and only a running licence is renewed.`,
        "What to do: check the order in the vendor's panel; once it is active the next night renews it, or renew it by hand.",
      ],
    }[why];
    return licenceAlert(
      "renewal_blocked",
      "critical",
      night,
      licence,
      product,
      `${licence.expiresOn}:${why}:${lapsed ? "lapsed" : "due"}`,
      `Cannot renew automatically: ${label(licence)} ${when}`,
      [
        `It is set to renew automatically and is ${lapsed ? "past its expiry" : "due for renewal"}, but the watcher cannot renew it.`,
        ...reasons,
      ],
    );
  },

  vendorSuspended(night: IsoDate, licence: LicenceRecord, product: Product | undefined): Alert {
    return licenceAlert(
      "vendor_suspended",
      "warning",
      night,
      licence,
      product,
      night,
      `Suspended by the vendor: ${label(licence)}`,
      [
        "The vendor's list shows this licence suspended, and we did not suspend it.",
        "What to do: check it in the vendor's panel; an unpaid licence is renewed to resume it.",
      ],
    );
  },

  vendorDeleted(night: IsoDate, licence: LicenceRecord, product: Product | undefined, gone: boolean): Alert {
    return licenceAlert(
      "vendor_deleted",
      "critical",
      night,
      licence,
      product,
      night,
      `${gone ? "Gone from the vendor" : "Deleted by the vendor"}: ${label(licence)}`,
      [
        gone
          ? "The licence no longer appears in the vendor's list. The register keeps it, marked as gone."
          : "The vendor's list shows this licence deleted. The register keeps it, marked deleted.",
        "What to do: if the server still needs a licence, order a new one.",
      ],
    );
  },

  syncFailed(night: IsoDate, licence: LicenceRecord, reason: string): Alert {
    return licenceAlert(
      "sync_failed",
      "warning",
      night,
      licence,
      undefined,
      night,
      `Could not read ${label(licence)} from the vendor`,
      [
        `Reason: ${reason}`,
        "What happens next: the next night tries again; the register keeps what it knew.",
      ],
    );
  },

  lifecycle(
    night: IsoDate,
    product: Product,
    event: { name: string; date: IsoDate; meaning: string },
    days: number,
    licences: LicenceRecord[],
  ): Alert {
    const listed = licences
      .slice(0, 50)
      .map((l) => `  ${l.name} (id ${l.id}, ${l.ip}), expires ${l.expiresOn ?? "?"}`);
    const more = licences.length > listed.length ? [`  … and ${licences.length - listed.length} more`] : [];
    return {
      kind: "lifecycle",
      severity: days <= 1 ? "critical" : "warning",
      title: title(
        `[licence desk] ${product.title}: ${event.name} in ${days} day${days === 1 ? "" : "s"} (${event.date})`,
      ),
      body: [
        `${product.title}: ${event.name} on ${event.date}.`,
        event.meaning,
        `Licences concerned (${licences.length}):`,
        ...listed,
        ...more,
        "",
      ].join("\n"),
      licenceId: undefined,
      night,
      ledger: { subject: `product:${product.id}`, threshold: `${event.name}:${event.date}:${days}` },
    };
  },

  lowBalance(
    night: IsoDate,
    balance: { minor: number; currency: string | undefined },
    dueMinor: number,
    due: string[],
    days: number,
  ): Alert {
    const money = (minor: number) => `${(minor / 100).toFixed(2)} ${balance.currency ?? ""}`.trim();
    return {
      kind: "low_balance",
      severity: "critical",
      title: title(
        `[licence desk] Balance ${money(balance.minor)} will not cover ${money(dueMinor)} of renewals in ${days} days`,
      ),
      body: [
        `The vendor account holds ${money(balance.minor)}; the renewals due in the next ${days} days cost ${money(dueMinor)}.`,
        "Renewals due:",
        ...due.map((line) => `  ${line}`),
        "",
        "What happens next: renewals the balance cannot pay fail, and those licences expire.",
        "What to do: top up the vendor account before the first of them.",
        "",
      ].join("\n"),
      licenceId: undefined,
      night,
      ledger: { subject: "account", threshold: night },
    };
  },

  vendorUnreachable(night: IsoDate, reason: string): Alert {
    return {
      kind: "vendor_unreachable",
      severity: "critical",
      title: title(`[licence desk] Nightly run ${night} could not reach the vendor`),
      body: `The vendor's licence list could not be read: ${reason}\n\nNothing was synced or renewed tonight. The schedule retries the run; if it keeps failing, check the vendor endpoint and credentials.\n`,
      licenceId: undefined,
      night,
      ledger: { subject: "watcher", threshold: `unreachable:${night}` },
    };
  },
};

const SEVERITY_ORDER: Severity[] = ["info", "warning", "critical"];

/** Many alerts of one kind in one e-mail: each one's title, then the first one's advice. */
export function digest(group: Alert[]): Alert {
  const first = group[0] as Alert;
  const severity =
    SEVERITY_ORDER[Math.max(...group.map((a) => SEVERITY_ORDER.indexOf(a.severity)))] ?? "warning";
  const advice = first.body
    .split("\n\n")
    .filter((p) => p.startsWith("What "))
    .join("\n\n");
  const listed = group.slice(0, 500).map((a) => `  ${a.title.replace("[licence desk] ", "")}`);
  const more = group.length > listed.length ? [`  … and ${group.length - listed.length} more`] : [];
  return {
    kind: first.kind,
    severity,
    title: title(`[licence desk] ${group.length} licences: ${DIGEST_TITLES[first.kind] ?? first.kind}`),
    body: [`${group.length} licences tonight (${first.night}):`, ...listed, ...more, "", advice, ""].join(
      "\n",
    ),
    licenceId: undefined,
    night: first.night,
    ledger: { subject: "digest", threshold: `${first.kind}:${first.night}` },
    covers: group.map((a) => `${a.ledger.subject}|${a.kind}|${a.ledger.threshold}`),
  };
}

const DIGEST_TITLES: Partial<Record<AlertKind, string>> = {
  expiry: "expiring soon",
  expired: "expired",
  cannot_renew: "can no longer be renewed",
  renewal_failed: "renewal failed",
  renewal_unknown: "renewal outcome unknown",
  renewal_blocked: "cannot be renewed automatically",
  vendor_suspended: "suspended by the vendor",
  vendor_deleted: "deleted or gone at the vendor",
  sync_failed: "could not be read from the vendor",
};
