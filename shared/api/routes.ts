import type { GenericSchema } from "valibot";
import {
  ChangeProductBody,
  GetQuery,
  IpAvailabilityQuery,
  ListQuery,
  OrderBody,
  OutcomesQuery,
  RenewBody,
  SettleBody,
  SuccessorBody,
  UpdateBody,
} from "./requests.ts";

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** API Gateway's path syntax. */
  path: string;
  /** The handler module: `functions/<handler>.ts`, exporting `handler`. */
  handler: string;
  summary: string;
  body?: GenericSchema;
  query?: GenericSchema;
  /** Money moves: `Idempotency-Key` is required. */
  idempotencyKey?: boolean;
  /** Whether the route may call the vendor (and so needs its credentials). */
  vendor: boolean;
  /** Only for the clients named in OPERATOR_CLIENTS: any other gets 403 `forbidden`. */
  operator?: boolean;
  /**
   * Records alerts for staff (a settled or undecided money call): the alert ledger, which batches its
   * writes, so the function may BatchWriteItem on the register.
   */
  alerts?: boolean;
  success: 200 | 201;
  /** Error codes of this route's own rules, beyond those every route, vendor route or money route gives. */
  refusals?: readonly string[];
  /** Groups routes in the OpenAPI document. */
  tag: "licences" | "availability" | "operators";
}

/** The HTTP contract of product.md, one entry per route: the local server, the OpenAPI document and the CDK stack read it. */
export const routes: readonly Route[] = [
  {
    method: "POST",
    path: "/licenses",
    handler: "order-licence",
    summary: "Order a licence (charges the balance)",
    body: OrderBody,
    idempotencyKey: true,
    vendor: true,
    alerts: true,
    success: 201,
    refusals: ["lifecycle_closed", "order_in_flight", "order_not_placed"],
    tag: "licences",
  },
  {
    method: "GET",
    path: "/licenses",
    handler: "list-licences",
    summary: "List the register's licences",
    query: ListQuery,
    vendor: false,
    success: 200,
    tag: "licences",
  },
  {
    method: "GET",
    path: "/licenses/{id}",
    handler: "get-licence",
    summary: "A licence from the register, or fresh from the vendor with ?refresh=true",
    query: GetQuery,
    vendor: true,
    success: 200,
    tag: "licences",
  },
  {
    method: "PATCH",
    path: "/licenses/{id}",
    handler: "update-licence",
    summary: "Change name, IP (at the vendor) or autoRenew (ours only)",
    body: UpdateBody,
    vendor: true,
    success: 200,
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/renew",
    handler: "renew-licence",
    summary: "Renew a licence (charges the balance)",
    body: RenewBody,
    idempotencyKey: true,
    vendor: true,
    alerts: true,
    success: 200,
    refusals: [
      "lifecycle_closed",
      "already_at_cap",
      "renewal_in_flight",
      "renewal_not_wanted",
      "renewal_not_applied",
    ],
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/successor",
    handler: "successor-licence",
    summary:
      "Order a licence of a later generation on the same IP (ISPmanager 5 to 6; charges the balance), retiring this one as asked",
    body: SuccessorBody,
    idempotencyKey: true,
    vendor: true,
    alerts: true,
    success: 201,
    refusals: [
      "lifecycle_closed",
      "order_in_flight",
      "order_not_placed",
      "successor_exists",
      "licence_deleted",
    ],
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/change-product",
    handler: "change-product",
    summary:
      "Move a licence to another tariff of its own product line (Lite to Business; charges the balance)",
    body: ChangeProductBody,
    idempotencyKey: true,
    vendor: true,
    alerts: true,
    success: 200,
    refusals: [
      "lifecycle_closed",
      "renewal_in_flight",
      "product_unchanged",
      "licence_deleted",
      "product_change_not_applied",
    ],
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/suspend",
    handler: "suspend-licence",
    summary: "Suspend a licence",
    vendor: true,
    success: 200,
    // Refused while a renewal is on its way to the vendor: it would reactivate the licence.
    refusals: ["renewal_in_flight"],
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/resume",
    handler: "resume-licence",
    summary: "Resume a suspended licence",
    vendor: true,
    success: 200,
    tag: "licences",
  },
  {
    method: "POST",
    path: "/licenses/{id}/key",
    handler: "regenerate-key",
    summary: "Issue a new licence key",
    vendor: true,
    success: 200,
    tag: "licences",
  },
  {
    method: "DELETE",
    path: "/licenses/{id}",
    handler: "delete-licence",
    summary: "Delete a licence",
    vendor: true,
    success: 200,
    tag: "licences",
  },
  {
    method: "GET",
    path: "/ip-availability",
    handler: "ip-availability",
    summary: "Whether a licence can be ordered for an IP today",
    query: IpAvailabilityQuery,
    vendor: true,
    success: 200,
    tag: "availability",
  },
  {
    method: "GET",
    path: "/outcomes",
    handler: "list-outcomes",
    summary: "Money calls the evidence cannot decide, for an operator to settle (or every open one)",
    query: OutcomesQuery,
    vendor: false,
    operator: true,
    success: 200,
    tag: "operators",
  },
  {
    method: "POST",
    path: "/outcomes/{key}",
    handler: "settle-outcome",
    summary: "Settle an open money call as applied or not applied, from the vendor's panel",
    body: SettleBody,
    // Never sends a money call; an order settled as applied reads its licence's form, a renewal its new expiry.
    vendor: true,
    operator: true,
    alerts: true,
    success: 200,
    refusals: ["not_found", "outcome_settled", "request_in_progress"],
    tag: "operators",
  },
];
