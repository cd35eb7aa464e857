import { billingClientFromConfig } from "../../shared/billmgr/index.ts";
import { loadCatalogue } from "../../shared/catalogue/index.ts";
import { readBillmgrConfig } from "../../shared/config.ts";
import { licenceDesk } from "../../shared/licences/service.ts";
import { now } from "./clock.ts";
import { config } from "./config.ts";
import { register } from "./register.ts";

/** Built once per container: the vendor client (its keep-alive pool), the catalogue, the register. */
const deps = {
  billing: billingClientFromConfig(readBillmgrConfig()),
  register,
  catalogue: loadCatalogue(config.CATALOGUE_JSON),
  idempotency: {
    ttlSeconds: config.IDEMPOTENCY_TTL_HOURS * 3600,
    lockMs: config.IDEMPOTENCY_LOCK_SECONDS * 1000,
  },
};

/** The licence desk acting for one API client at this moment. */
export function deskFor(client: string) {
  return licenceDesk(deps, { client, now: now() });
}
