import { mapLimit } from "../../map-limit.ts";
import type { LicenceStore } from "../../ports/licence-store.ts";
import type { BeforeWrite, Change, WriteChange } from "./change-writer.ts";

/**
 * New licences given to one `createMany`: it checks and writes them 100 at a time (one read, four batch
 * writes at once), and reads the orders' claims once after all of them.
 */
const NEW_BATCH = 400;
/** BatchWriteItem calls one `createMany` has in flight at once. */
const WRITES_PER_CALL = 4;

export interface BatchWriterDeps {
  licences: Pick<LicenceStore, "createMany">;
  beforeWrite?: BeforeWrite | undefined;
  /** Register requests in flight at once: batch writes over the groups in flight, and writes at once within a group. */
  concurrency: number;
  /** For a licence someone created (or an order claimed) since the register was read. */
  write: WriteChange;
}

export interface BatchWriter {
  /**
   * Queues a licence new to the register; a full batch is written at once. Waits only while as many
   * batches as the register takes are in flight, so no more is read than can be written; throws the
   * failure of an earlier batch.
   */
  add(change: Change, touch: boolean): Promise<void>;
  /** Writes what is queued and waits for every batch: the changes written, batch after batch as they landed. */
  finish(): Promise<Change[]>;
}

/**
 * The sync's writer of licences new to the register, in batches written while the reading goes on, so
 * a run cut short (the first night of a large fleet) keeps what it did: its retry carries on from there.
 */
export function batchWriter(deps: BatchWriterDeps): BatchWriter {
  const queued: Array<{ change: Change; touch: boolean }> = [];
  const created: Change[] = [];
  const writing = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;

  /**
   * New licences, created in one batch; any that someone created (or an order claimed) since the
   * register was read is written like a change instead, at the version read.
   */
  async function createNew(batch: Array<{ change: Change; touch: boolean }>): Promise<Change[]> {
    if (batch.length === 0) return [];
    const byId = new Map(batch.map((b) => [b.change.after.id, b]));
    for (const { change } of batch) await deps.beforeWrite?.(change);
    const { created, existing } = await deps.licences.createMany(
      batch.map((b) => b.change.after),
      Math.min(WRITES_PER_CALL, deps.concurrency),
    );
    const done: Change[] = created.map((after) => ({
      ...(byId.get(after.id) as { change: Change }).change,
      after,
    }));
    const others = await mapLimit(
      existing.map((id) => byId.get(id) as { change: Change; touch: boolean }),
      deps.concurrency,
      ({ change, touch }) => deps.write(change, touch),
    );
    done.push(...others.filter((c): c is Change => c !== undefined));
    return done;
  }

  async function submit(batch: Array<{ change: Change; touch: boolean }>): Promise<void> {
    // Never rejects: a failure is kept and thrown to the reader that next submits, or at the end.
    const task: Promise<void> = createNew(batch).then(
      (done) => {
        created.push(...done);
      },
      (error: unknown) => {
        failure ??= { error };
      },
    );
    writing.add(task);
    void task.then(() => writing.delete(task));
    while (writing.size >= Math.max(1, Math.floor(deps.concurrency / WRITES_PER_CALL)))
      await Promise.race(writing);
    if (failure) throw failure.error;
  }

  return {
    async add(change, touch) {
      queued.push({ change, touch });
      if (queued.length >= NEW_BATCH) await submit(queued.splice(0));
    },
    async finish() {
      if (queued.length > 0) await submit(queued.splice(0));
      await Promise.all(writing);
      if (failure) throw failure.error;
      return created;
    },
  };
}
