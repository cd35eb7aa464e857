import * as v from "valibot";
import { isIsoDate } from "../domain/dates.ts";
import { canonicalIp, ipProblem } from "../domain/ip.ts";
import {
  type ChangeProductInput,
  type FieldErrors,
  fieldErrors,
  type IpQuery,
  type LicenceListQuery,
  type OrderInput,
  type RenewInput,
  type SuccessorInput,
  type UpdateInput,
} from "../domain/licences/inputs.ts";
import type { OutcomeState, Verdict } from "../domain/licences/operator.ts";
import { plainMessage, UNKNOWN_FIELD } from "./messages.ts";

/**
 * One schema per request body and query: the validator, the TypeScript type and the
 * OpenAPI document all come from here.
 */

/** Refused with the reason, then written in the one form the vendor stores (`shared/ip.ts`). */
const Ip = v.pipe(
  v.string("must be an IPv4 or IPv6 address"),
  v.trim(),
  v.check(
    (s) => ipProblem(s) === undefined,
    (issue) => ipProblem(String(issue.input)) ?? "must be an IPv4 or IPv6 address",
  ),
  v.transform((s) => canonicalIp(s) ?? s),
  v.description(
    "IPv4 or IPv6 address the licence is bound to; IPv6 is answered in its short lower-case form (RFC 5952)",
  ),
);

/**
 * Code points the vendor cannot store as sent: noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF) and lone
 * surrogates. It would store U+FFFD instead, and the name we keep would no longer match the vendor's.
 */
const UNSTORABLE = /[\p{Noncharacter_Code_Point}\p{Cs}]/u;

function unstorable(text: string): string {
  const found = UNSTORABLE.exec(text)?.[0] ?? "";
  const code = `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
  return /\p{Cs}/u.test(found) ? `a lone surrogate ${code}` : code;
}

/**
 * Any printable text: the vendor stores names literally, and `Tom & Jerry` must work. Not U+FFFD, the
 * replacement character: it is what a decoder writes for bytes that were not UTF-8 (a gateway on the way
 * may have done so before we see the body), and what the vendor writes for what it cannot store, so a
 * name holding it never says what the client meant and could not be told from a name the vendor mangled.
 */
const Name = v.pipe(
  v.string("must be text of 1 to 64 characters"),
  v.trim(),
  v.minLength(1, "must not be empty"),
  v.maxLength(64, "must be at most 64 characters"),
  v.regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, "must not contain control characters"),
  v.check(
    (s) => !s.includes("\uFFFD"),
    "must not contain U+FFFD, the replacement character, which stands for text that was not valid UTF-8: send the name as UTF-8",
  ),
  v.check(
    (s) => !UNSTORABLE.test(s),
    (issue) => `must not contain characters the vendor cannot store (${unstorable(String(issue.input))})`,
  ),
  v.description(
    "Licence name, 1-64 printable characters; not U+FFFD (the replacement character), a noncharacter or a lone surrogate",
  ),
);

const ProductId = v.pipe(
  v.string("must be a product id such as ispmanager5-lite"),
  v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a product id such as ispmanager5-lite"),
  v.description("Product id from the catalogue"),
);

const Period = v.pipe(v.picklist([1, 12], "must be 1 or 12"), v.description("Months"));
const Day = v.pipe(v.string("must be a YYYY-MM-DD date"), v.check(isIsoDate, "must be a YYYY-MM-DD date"));
const RetireOld = v.pipe(
  v.picklist(["after_expiry", "now", "never"], "must be after_expiry, now or never"),
  v.description(
    "What becomes of the licence: deleted at the vendor on the first night after its expiry once the successor runs (after_expiry), right after the successor is placed (now), or never",
  ),
);
const AutoRenew = v.pipe(
  v.nullable(v.picklist([1, 12], "must be null, 1 or 12")),
  v.description("Months the nightly watcher renews for, or null for no automatic renewal"),
);
const Nodes = v.pipe(
  v.number("must be a number"),
  v.integer("must be a whole number"),
  v.minValue(1, "must be at least 1"),
  v.maxValue(64, "must be at most 64"),
  v.description("Cluster nodes (products that have them)"),
);

export const OrderBody = v.strictObject({
  ip: Ip,
  name: Name,
  product: ProductId,
  period: Period,
  nodes: v.optional(Nodes),
  autoRenew: v.optional(AutoRenew, null),
});
export type OrderBody = v.InferOutput<typeof OrderBody>;

export const SuccessorBody = v.strictObject({
  period: Period,
  product: v.optional(
    v.pipe(ProductId, v.description("Default: the catalogue's successor of the licence's product")),
  ),
  autoRenew: v.optional(v.pipe(AutoRenew, v.description("Default: the licence's own"))),
  nodes: v.optional(v.pipe(Nodes, v.description("Default: the licence's own (products with nodes)"))),
  retireOld: v.optional(RetireOld, "after_expiry"),
});
export type SuccessorBody = v.InferOutput<typeof SuccessorBody>;

export const ChangeProductBody = v.strictObject({
  product: v.pipe(ProductId, v.description("Another product of the licence's own line (ISPmanager 5 or 6)")),
  nodes: v.optional(
    v.pipe(Nodes, v.description("Products with nodes; default: the licence's own, or the product's least")),
  ),
});
export type ChangeProductBody = v.InferOutput<typeof ChangeProductBody>;

export const UpdateBody = v.pipe(
  v.strictObject({
    name: v.optional(Name),
    ip: v.optional(Ip),
    autoRenew: v.optional(AutoRenew),
    successor: v.optional(
      v.pipe(
        v.nullable(
          v.strictObject({
            period: Period,
            product: v.optional(
              v.pipe(ProductId, v.description("Default: the catalogue's successor of the licence's product")),
            ),
            on: v.optional(
              v.pipe(
                Day,
                v.description("The night to order it; default: 14 days before the licence stops working"),
              ),
            ),
            retireOld: v.optional(RetireOld, "after_expiry"),
          }),
        ),
        v.description(
          "A successor the watcher orders on a night (POST /licenses/{id}/successor, done for you), or null for none (also against the fleet-wide PLAN_SUCCESSORS)",
        ),
      ),
    ),
  }),
  v.check(
    (body) => Object.keys(body).length > 0,
    "must change at least one of name, ip, autoRenew, successor",
  ),
);
export type UpdateBody = v.InferOutput<typeof UpdateBody>;

export const RenewBody = v.strictObject({ period: Period });
export type RenewBody = v.InferOutput<typeof RenewBody>;

export const ListQuery = v.strictObject({
  status: v.optional(
    v.picklist(
      ["ordered", "active", "suspended", "deleted", "processing", "unknown"],
      "must be one of ordered, active, suspended, deleted, processing, unknown",
    ),
  ),
  expiresBefore: v.optional(v.pipe(Day, v.description("Only licences expiring before this day"))),
  limit: v.optional(
    v.pipe(
      v.string("must be a whole number from 1 to 100"),
      v.regex(/^\d{1,3}$/, "must be a whole number from 1 to 100"),
      v.transform(Number),
      v.minValue(1, "must be at least 1"),
      v.maxValue(100, "must be at most 100"),
    ),
    "50",
  ),
  cursor: v.optional(
    v.pipe(
      v.string("is not one this API issued"),
      v.maxLength(2048, "is not one this API issued"),
      v.description("From the previous page"),
    ),
  ),
});
export type ListQuery = v.InferOutput<typeof ListQuery>;

export const GetQuery = v.strictObject({
  refresh: v.optional(
    v.pipe(
      v.picklist(["true", "false"], "must be true or false"),
      v.transform((s) => s === "true"),
    ),
    "false",
  ),
});
export type GetQuery = v.InferOutput<typeof GetQuery>;

export const IpAvailabilityQuery = v.strictObject({
  ip: Ip,
  product: ProductId,
  period: v.pipe(
    v.picklist(["1", "12"], "must be 1 or 12"),
    v.transform((s) => Number(s) as 1 | 12),
    v.description("Months"),
  ),
});
export type IpAvailabilityQuery = v.InferOutput<typeof IpAvailabilityQuery>;

/** Vendor licence ids are digits. */
export const LicenceId = v.pipe(
  v.string("must be a licence id (digits)"),
  v.regex(/^\d{1,19}$/, "must be a licence id (digits)"),
);

/** `Idempotency-Key`: what the client chose to name one purchase. */
export const IdempotencyKey = v.pipe(
  v.string("is required for this request"),
  v.minLength(1, "is required for this request"),
  v.maxLength(255, "must be at most 255 characters"),
  v.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
);

/** `GET /outcomes`: the calls a person must settle (the default), or every one still open. */
export const OutcomesQuery = v.strictObject({
  state: v.optional(
    v.pipe(
      v.picklist(["undecided", "unresolved"], "must be undecided or unresolved"),
      v.description(
        "undecided: the calls the evidence cannot decide, for a person to settle; unresolved: every open money call",
      ),
    ),
    "undecided",
  ),
});
export type OutcomesQuery = v.InferOutput<typeof OutcomesQuery>;

/** The client's name exactly as the token parameter gives it: keys are scoped per client. */
const ClientName = v.pipe(
  v.string("must be the API client's name whose Idempotency-Key it is"),
  v.minLength(1, "must be the API client's name whose Idempotency-Key it is"),
  v.maxLength(128, "must be at most 128 characters"),
  v.regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, "must not contain control characters"),
  v.description("The API client whose money call it is (Idempotency-Keys are scoped per client)"),
);

/** Why the operator settled it so: kept in the audit trail and told to the client, so a person can check it later. */
const Reason = v.pipe(
  v.string("must say what the vendor's panel shows, in 1 to 500 characters"),
  v.trim(),
  v.minLength(1, "must say what the vendor's panel shows, in 1 to 500 characters"),
  v.maxLength(500, "must be at most 500 characters"),
  v.regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, "must not contain control characters"),
  v.description("What the vendor's panel shows, 1-500 printable characters: audited, and told to the client"),
);

/** `POST /outcomes/{key}`: an operator's verdict on one open money call, from the vendor's panel. */
export const SettleBody = v.pipe(
  v.strictObject({
    client: ClientName,
    outcome: v.pipe(
      v.picklist(["applied", "not_applied"], "must be applied or not_applied"),
      v.description("applied: the vendor carried it out and charged it; not_applied: nothing was charged"),
    ),
    reason: Reason,
    licenceId: v.optional(
      v.pipe(
        v.string("must be a licence id (digits)"),
        v.regex(/^\d{1,19}$/, "must be a licence id (digits)"),
        v.description(
          "An order settled as applied: the licence it placed (required then, refused otherwise)",
        ),
      ),
    ),
  }),
  v.forward(
    v.check(
      (body) => body.outcome === "applied" || body.licenceId === undefined,
      "is only for an order settled as applied",
    ),
    ["licenceId"],
  ),
);
export type SettleBody = v.InferOutput<typeof SettleBody>;

export type { FieldErrors } from "../domain/licences/inputs.ts";

/**
 * Validates, or returns every offending field with a message each, in plain words (`root` names the
 * whole input). Every problem is collected, not only the first, so one answer lists them all.
 */
export function validate<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  root: "body" | "query" = "body",
): { ok: true; value: v.InferOutput<S> } | { ok: false; fields: FieldErrors } {
  const result = v.safeParse(schema, input, { message: plainMessage });
  if (result.success) return { ok: true, value: result.output };
  // One message per field, the first problem found being the one to fix first; `fieldErrors` keeps a
  // field named `__proto__` or `constructor` as the field it is. A failed parse has at least one issue,
  // so a refusal always names at least one field.
  return {
    ok: false,
    fields: fieldErrors([
      ...result.issues.map((issue) => [v.getDotPath(issue) ?? root, issue.message] as const),
      // valibot's strict object stops at the first key it does not take: the client hears of every one.
      ...unknownKeys(schema, input).map((key) => [key, UNKNOWN_FIELD] as const),
    ]),
  };
}

/** The input's own keys that the schema's strict object (itself, optional, or a pipe's head) does not take. */
function unknownKeys(schema: v.GenericSchema, input: unknown): string[] {
  const s = schema as { type: string; wrapped?: v.GenericSchema; pipe?: v.GenericSchema[]; entries?: object };
  if (s.type === "optional" && s.wrapped) return unknownKeys(s.wrapped, input);
  if (s.pipe?.[0] && s.pipe[0] !== schema) return unknownKeys(s.pipe[0], input);
  if (s.type !== "strict_object" || !s.entries) return [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) return [];
  const entries = s.entries;
  return Object.keys(input).filter((key) => !Object.hasOwn(entries, key));
}

// The domain's inputs (`shared/domain/licences/inputs.ts`) are what these schemas produce: checked here, once.
type Fits<A, B> = [A] extends [B] ? true : never;
const inStep: [
  Fits<OrderBody, OrderInput>,
  Fits<RenewBody, RenewInput>,
  Fits<SuccessorBody, SuccessorInput>,
  Fits<ChangeProductBody, ChangeProductInput>,
  Fits<UpdateBody, UpdateInput>,
  Fits<IpAvailabilityQuery, IpQuery>,
  Fits<ListQuery, LicenceListQuery>,
  Fits<SettleBody & { key: string }, Verdict>,
  Fits<OutcomesQuery["state"], OutcomeState>,
] = [true, true, true, true, true, true, true, true, true];
void inStep;
