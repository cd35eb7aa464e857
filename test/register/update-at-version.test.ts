import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { UPDATE_ROUNDS, updateAtVersion } from "../../shared/domain/licences/update-at-version.ts";
import {
  type LicenceRecord,
  type LicenceStore,
  StaleRecordError,
} from "../../shared/domain/ports/licence-store.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { licenceRecord } from "../support/fixtures.ts";

/**
 * The one read-then-write of a licence (the order's and the renewal's stores, the sync, new licences):
 * written at the version read, decided again on the record as it is after a lost write, and given up
 * after `UPDATE_ROUNDS` lost writes. A second writer plays the concurrent one inside `decide`.
 */
const licence = (id: string): LicenceRecord => licenceRecord({ id });

describe("updateAtVersion", () => {
  let client: DynamoDBClient;
  let licences: LicenceStore;
  /** What `licences.get` was asked, to tell a round that read from one that used the record in hand. */
  let reads: string[];
  let counted: Pick<LicenceStore, "get" | "update">;

  beforeAll(async () => {
    client = dynamoClient(inject("dynamodbEndpoint"));
    licences = createDynamoRegister({ client, tableName: await freshTable(client, "at-version") }).licences;
    counted = {
      get: (id) => {
        reads.push(id);
        return licences.get(id);
      },
      update: (id, changes, options) => licences.update(id, changes, options),
    };
  });
  afterAll(() => client.destroy());
  beforeEach(() => {
    reads = [];
  });

  it("decides again on the record as a concurrent write left it, and keeps that write", async () => {
    await licences.create(licence("1"));
    const seen: Array<string | undefined> = [];
    const after = await updateAtVersion(counted, "1", async (current) => {
      seen.push(current.name);
      // The other writer lands between our read and our write, once.
      if (seen.length === 1) await licences.update("1", { name: "renamed" });
      return { autoRenew: 12 };
    });
    expect(seen).toEqual(["web-1", "renamed"]);
    expect(after).toMatchObject({ name: "renamed", autoRenew: 12, version: 3 });
    expect(await licences.get("1")).toMatchObject({ name: "renamed", autoRenew: 12, version: 3 });
  });

  it(`gives up after ${UPDATE_ROUNDS} lost writes, throwing the last loss`, async () => {
    await licences.create(licence("2"));
    let rounds = 0;
    await expect(
      updateAtVersion(counted, "2", async () => {
        rounds++;
        await licences.update("2", { name: `other-${rounds}` });
        return { autoRenew: 1 };
      }),
    ).rejects.toBeInstanceOf(StaleRecordError);
    expect(rounds).toBe(UPDATE_ROUNDS);
    expect(await licences.get("2")).toMatchObject({ name: `other-${UPDATE_ROUNDS}`, autoRenew: null });
  });

  it("writes nothing when decide says nothing, and answers the record as it stands", async () => {
    await licences.create(licence("3"));
    const after = await updateAtVersion(counted, "3", () => undefined);
    expect(after).toMatchObject({ id: "3", version: 1 });
    expect((await licences.get("3"))?.version).toBe(1);
  });

  it("answers undefined for a licence not in the register, deciding nothing", async () => {
    let decided = false;
    const after = await updateAtVersion(counted, "404", () => {
      decided = true;
      return { autoRenew: 1 };
    });
    expect(after).toBeUndefined();
    expect(decided).toBe(false);
  });

  it("uses the record in hand for the first round and reads for every later one", async () => {
    await licences.create(licence("5"));
    const inHand = await licences.get("5");
    let rounds = 0;
    await updateAtVersion(
      counted,
      "5",
      async () => {
        rounds++;
        if (rounds === 1) await licences.update("5", { name: "moved" });
        return { autoRenew: 12 };
      },
      { current: inHand },
    );
    expect(rounds).toBe(2);
    expect(reads).toEqual(["5"]);
  });
});
