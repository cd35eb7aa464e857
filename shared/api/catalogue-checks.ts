import * as v from "valibot";
import type { Catalogue, Product } from "../domain/catalogue/catalogue.ts";
import {
  nodesProblem as nodesRule,
  periodProblem as periodRule,
  productProblem,
} from "../domain/catalogue/rules.ts";
import { ChangeProductBody, IpAvailabilityQuery, OrderBody, SuccessorBody } from "./requests.ts";

type Lookup = Pick<Catalogue, "byId" | "products">;

/*
 * The catalogue's rules (`shared/domain/catalogue/rules.ts`), checked in the same pass as the request's shape:
 * one answer names an unknown product alongside a bad IP and name. Each check runs once the fields it
 * reads are themselves valid, and a period or nodes are checked only against a known product, so a bad
 * period is not also blamed on the product.
 */

const periodProblem = (product: Product | undefined, period: number) =>
  product && periodRule(product, period);

const nodesProblem = (product: Product | undefined, nodes: number | undefined) =>
  product && nodesRule(product, nodes);

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

/** `POST /licenses/{id}/successor` as this catalogue allows it: a product named must be known, sold for the period, with its nodes. */
export function successorBodyIn(catalogue: Lookup) {
  const named = (product: string | undefined) =>
    product === undefined ? undefined : catalogue.byId(product);
  return v.pipe(
    SuccessorBody,
    v.forward(
      v.partialCheck(
        [["product"]],
        (input) => input.product === undefined || productProblem(catalogue, input.product) === undefined,
        (issue) => (issue.input.product && productProblem(catalogue, issue.input.product)) ?? "",
      ),
      ["product"],
    ),
    v.forward(
      v.partialCheck(
        [["product"], ["period"]],
        (input) => periodProblem(named(input.product), input.period) === undefined,
        (issue) => periodProblem(named(issue.input.product), issue.input.period) ?? "",
      ),
      ["period"],
    ),
    v.forward(
      v.partialCheck(
        [["product"], ["nodes"]],
        (input) => nodesProblem(named(input.product), input.nodes) === undefined,
        (issue) => nodesProblem(named(issue.input.product), issue.input.nodes) ?? "",
      ),
      ["nodes"],
    ),
  );
}

/** `POST /licenses/{id}/change-product` as this catalogue allows it: a known product, with its nodes. */
export function changeProductBodyIn(catalogue: Lookup) {
  return v.pipe(
    ChangeProductBody,
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
        [["product"], ["nodes"]],
        (input) => nodesProblem(catalogue.byId(input.product), input.nodes) === undefined,
        (issue) => nodesProblem(catalogue.byId(issue.input.product), issue.input.nodes) ?? "",
      ),
      ["nodes"],
    ),
  );
}
