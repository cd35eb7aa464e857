import { readServiceConfig } from "../../shared/config.ts";

/** Read and checked once per container. */
export const config = readServiceConfig();
