import {
  changeProductBodyIn,
  ipAvailabilityQueryIn,
  orderBodyIn,
  successorBodyIn,
} from "../../shared/api/catalogue-checks.ts";
import { deskDeps } from "./desk.ts";

/** The request schemas that read this deployment's catalogue, built once per container with it. */
export const OrderRequest = orderBodyIn(deskDeps.catalogue);
export const IpAvailabilityRequest = ipAvailabilityQueryIn(deskDeps.catalogue);
export const SuccessorRequest = successorBodyIn(deskDeps.catalogue);
export const ChangeProductRequest = changeProductBodyIn(deskDeps.catalogue);
