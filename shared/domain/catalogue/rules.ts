import type { Catalogue, Product } from "./catalogue.ts";

/*
 * What the catalogue allows of a request, in one place: the API's request schemas check these in the
 * same pass as the request's shape (`shared/api/catalogue-checks.ts`), and the desk checks them again
 * (`shared/domain/licences/context.ts`, `order.ts`) for its callers other than the API. Each answers the
 * problem in the words a client reads after the field's name, or undefined when there is none.
 */

/** The product is in the catalogue. */
export function productProblem(
  catalogue: Pick<Catalogue, "byId" | "products">,
  id: string,
): string | undefined {
  if (catalogue.byId(id)) return undefined;
  return `is not in the catalogue (${catalogue.products.map((p) => p.id).join(", ")})`;
}

/** The period is one the product is sold for. */
export function periodProblem(product: Product, period: number): string | undefined {
  if (product.periods.includes(period as Product["periods"][number])) return undefined;
  return `must be one of ${product.periods.join(", ")} for ${product.id}`;
}

/** Cluster nodes only where the product has them, and within its range; none sent is always right. */
export function nodesProblem(product: Product, nodes: number | undefined): string | undefined {
  if (nodes === undefined) return undefined;
  if (!product.nodes) return `must not be sent: ${product.id} has no cluster nodes`;
  const { min, max } = product.nodes;
  return nodes < min || nodes > max ? `must be from ${min} to ${max} for ${product.id}` : undefined;
}
