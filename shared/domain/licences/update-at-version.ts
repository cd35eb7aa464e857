import {
  type LicenceChanges,
  type LicenceRecord,
  type LicenceStore,
  StaleRecordError,
} from "../ports/licence-store.ts";

/**
 * How many times one licence's write is decided, written and lost to a concurrent write before the
 * loss is thrown. Every read-then-write of a licence uses this one limit.
 */
export const UPDATE_ROUNDS = 4;

/** What to write to the licence as it is now; undefined: nothing, the record stands as it is. */
export type Decide = (
  current: LicenceRecord,
) => LicenceChanges | undefined | Promise<LicenceChanges | undefined>;

/**
 * A licence changed at the version read, so a concurrent write is never overwritten: `decide` sees the
 * record and says what to write; a write that loses (`StaleRecordError`) reads the record again and
 * decides again, up to `UPDATE_ROUNDS` writes. `current`, when given, is the record already in hand for
 * the first round (no read); later rounds always read.
 *
 * The record as written; the record as it stands when `decide` writes nothing; undefined when the
 * licence is not (or no longer) in the register.
 */
export async function updateAtVersion(
  licences: Pick<LicenceStore, "get" | "update">,
  id: string,
  decide: Decide,
  options: { current?: LicenceRecord | undefined } = {},
): Promise<LicenceRecord | undefined> {
  let current = options.current;
  for (let round = 1; ; round++) {
    current ??= await licences.get(id);
    if (current === undefined) return undefined;
    const changes = await decide(current);
    if (changes === undefined) return current;
    try {
      return await licences.update(id, changes, { ifVersion: current.version ?? 0 });
    } catch (error) {
      if (!(error instanceof StaleRecordError) || round >= UPDATE_ROUNDS) throw error;
      current = undefined;
    }
  }
}
