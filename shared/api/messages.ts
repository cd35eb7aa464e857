import type * as v from "valibot";

/** A key the object does not take. */
export const UNKNOWN_FIELD = "is not a known field";

/**
 * Plain words for a schema problem that has no message of its own. The schemas name most problems
 * themselves; this is the floor under them, so a client never reads the schema library's own text
 * ("Invalid type: Expected ...") and a schema added later cannot leak it either.
 */
export function plainMessage(issue: v.BaseIssue<unknown>): string {
  const requirement = (issue as { requirement?: unknown }).requirement;
  switch (issue.type) {
    case "object":
    case "strict_object":
    case "loose_object":
      // An object's issue with a path is about one of its keys: missing, or one it does not take.
      if (!issue.path?.length) return "must be a JSON object";
      return issue.expected === "never" ? UNKNOWN_FIELD : "is required";
    case "string":
      return "must be text";
    case "number":
      return "must be a number";
    case "boolean":
      return "must be true or false";
    case "picklist":
    case "literal":
      return `must be ${choices(issue.expected)}`;
    case "integer":
      return "must be a whole number";
    case "min_length":
      return `must be at least ${String(requirement)} characters`;
    case "max_length":
      return `must be at most ${String(requirement)} characters`;
    case "min_value":
      return `must be at least ${String(requirement)}`;
    case "max_value":
      return `must be at most ${String(requirement)}`;
    default:
      return "is not valid";
  }
}

/** `("true" | "false")` as the schema library writes choices, in words: `true or false`. */
function choices(expected: string | null): string {
  const options = (expected ?? "")
    .replace(/^\((.*)\)$/, "$1")
    .split(" | ")
    .map((option) => option.replace(/^"(.*)"$/, "$1"));
  if (options.length <= 1) return options[0] || "one of the allowed values";
  return `${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
}
