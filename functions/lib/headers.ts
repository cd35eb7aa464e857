/** The parts of an API Gateway REST event (proxy or REQUEST authorizer) that carry headers. */
export interface HeaderParts {
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
}

/**
 * Every value of one header, its name compared without case. API Gateway (REST) keeps only the last
 * value of a repeated header in `headers` and all of them in `multiValueHeaders`, so a header that must
 * come once is counted there: otherwise one layer could read the first of two and another the last.
 * `headers` alone is read where an event has no `multiValueHeaders` (a hand-made one).
 */
export function headerValues(event: HeaderParts, name: string): string[] {
  const wanted = name.toLowerCase();
  const matching = <T>(record: Record<string, T | undefined> | null | undefined): T[] =>
    Object.entries(record ?? {})
      .filter(([key]) => key.toLowerCase() === wanted)
      .flatMap(([, value]) => (value === undefined || value === null ? [] : [value]));
  const all = matching(event.multiValueHeaders).flat();
  return all.length > 0 ? all : matching(event.headers);
}

/** What a client reads when it sent `Authorization` more than once. */
export function repeatedAuthorization(count: number): string {
  return `this request has ${count} Authorization headers: send exactly one, 'Authorization: Bearer <token>'`;
}
