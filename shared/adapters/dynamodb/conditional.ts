import type {
  DeleteCommand,
  DeleteCommandOutput,
  DynamoDBDocumentClient,
  PutCommand,
  PutCommandOutput,
  UpdateCommand,
  UpdateCommandOutput,
} from "@aws-sdk/lib-dynamodb";

/** A write that only lands if its `ConditionExpression` holds. */
export type ConditionalCommand = PutCommand | UpdateCommand | DeleteCommand;

type OutputOf<C extends ConditionalCommand> = C extends UpdateCommand
  ? UpdateCommandOutput
  : C extends PutCommand
    ? PutCommandOutput
    : DeleteCommandOutput;

/** A conditional write that lost: another writer got there first (or the item is not as required). */
export function isConditionFailure(error: unknown): boolean {
  // By name, not `instanceof`: robust to two copies of the SDK in one process.
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/**
 * The register's one way to make a conditional write: the write's answer, or undefined when its
 * condition did not hold (a lost race is an answer, not a failure). Anything else is thrown.
 */
export async function conditionalWrite<C extends ConditionalCommand>(
  doc: DynamoDBDocumentClient,
  command: C,
): Promise<OutputOf<C> | undefined> {
  try {
    // `send` is typed one command class at a time; the answer is the one of the command given.
    return (await doc.send(command as UpdateCommand)) as OutputOf<C>;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/** Whether a conditional write's condition held, and so whether it was written. */
export async function conditional(
  doc: DynamoDBDocumentClient,
  command: ConditionalCommand,
): Promise<boolean> {
  return (await conditionalWrite(doc, command)) !== undefined;
}
