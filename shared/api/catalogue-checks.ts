import * as v from "valibot";
import type { Catalogue, Product } from "../catalogue/index.ts";
import { IpAvailabilityQuery, OrderBody } from "./requests.ts";

type Lookup = Pick<Catalogue, "byId" | "products">;

/*
 * What the product catalogue says of a request, checked in the same pass as the request's shape: one
 * answer names an unknown product alongside a bad IP and name. Each check runs once the fields it reads
 * are themselves valid, so a bad period is not also blamed on the product. The desk checks the same
 * rules again (`shared/licences/context.ts`): it has callers other than the API.
 */

function productProblem(catalogue: Lookup, id: string): string | undefined {
  if (catalogue.byId(id)) return undefined;
  return `is not in the catalogue (${catalogue.products.map((p) => p.id).join(", ")})`;
}

function periodProblem(product: Product | undefined, period: number): string | undefined {
  if (!product || product.periods.includes(period as 1)) return undefined;
  return `must be one of ${product.periods.join(", ")} for ${product.id}`;
}

function nodesProblem(product: Product | undefined, nodes: number | undefined): string | undefined {
  if (!product || nodes === undefined) return undefined;
  if (!product.nodes) return `must not be sent: ${product.id} has no cluster nodes`;
  const { min, max } = product.nodes;
  return nodes < min || nodes > max ? `must be from ${min} to ${max} for ${product.id}` : undefined;
}

/** `POST /licenses` as this catalogue allows it: product, its periods and its cluster nodes. */
export function orderBodyIn(catalogue: Lookup) {
  return v.pipe(
    OrderBody,
    v.forward(
      v.partialCheck(
        [["product"]],
        (input) => productProblem(catalogue, input.product) === undefined,
        (issue) => productProblem(catalogue, issue.input.product) ?? "",
      ),
      ["product"],
    ),
    v.forward(
      v.partialCheck(
        [["product"], ["period"]],
        (input) => periodProblem(catalogue.byId(input.product), input.period) === undefined,
        (issue) => periodProblem(catalogue.byId(issue.input.product), issue.input.period) ?? "",
      ),
      ["period"],
    ),
    v.forward(
      v.partialCheck(
        [["product"], ["nodes"]],
        (input) => nodesProblem(catalogue.byId(input.product), input.nodes) === undefined,
        (issue) => nodesProblem(catalogue.byId(issue.input.product), issue.input.nodes) ?? "",
      ),
      ["nodes"],
    ),
  );
}

/** `GET /ip-availability` as this catalogue allows it. */
export function ipAvailabilityQueryIn(catalogue: Lookup) {
  return v.pipe(
    IpAvailabilityQuery,
    v.forward(
      v.partialCheck(
        [["product"]],
        (input) => productProblem(catalogue, input.product) === undefined,
        (issue) => productProblem(catalogue, issue.input.product) ?? "",
      ),
      ["product"],
    ),
    v.forward(
      v.partialCheck(
        [["product"], ["period"]],
        (input) => periodProblem(catalogue.byId(input.product), input.period) === undefined,
        (issue) => periodProblem(catalogue.byId(issue.input.product), issue.input.period) ?? "",
      ),
      ["period"],
    ),
  );
}
