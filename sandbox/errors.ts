/**
 * A refusal, rendered by the server as the vendor's `<error type object>`; `value` is echoed in
 * the error's `value` param, so it must never carry a secret.
 */
export class SandboxError extends Error {
  override readonly name = "SandboxError";
  constructor(
    readonly type: string,
    readonly object: string,
    message: string,
    readonly value = "",
  ) {
    super(message);
  }
}
