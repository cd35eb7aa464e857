import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SandboxError } from "./errors.ts";

export const DEFAULT_CREDENTIALS = "reseller:sandbox-secret";
/** The vendor ends a session one hour after its last request. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;

/** Parameters that carry credentials: never recorded, never echoed. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set(["authinfo", "password", "username", "auth"]);

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** `user:password`, split at the first colon as the vendor splits `authinfo`. */
export function splitCredentials(text: string): { user: string; password: string } | undefined {
  const at = text.indexOf(":");
  if (at < 0) return undefined;
  return { user: text.slice(0, at), password: text.slice(at + 1) };
}

export function authError(): SandboxError {
  // The value param stays empty: the vendor never echoes what was typed as a password.
  return new SandboxError("auth", "badpassword", "Invalid username or password", "");
}

/**
 * The one account the sandbox knows. Only a digest of the password is kept, so the object can be
 * logged or inspected without leaking it.
 */
export class Account {
  readonly user: string;
  private readonly passwordDigest: Buffer;

  constructor(credentials: string = DEFAULT_CREDENTIALS) {
    const parts = splitCredentials(credentials);
    if (!parts || parts.user === "" || parts.password === "") {
      throw new RangeError("credentials must be user:password with both parts non-empty");
    }
    this.user = parts.user;
    this.passwordDigest = digest(parts.password);
  }

  verify(user: string, password: string): boolean {
    const sameUser = timingSafeEqual(digest(user), digest(this.user));
    const samePassword = timingSafeEqual(digest(password), this.passwordDigest);
    return sameUser && samePassword;
  }

  toJSON(): { user: string } {
    return { user: this.user };
  }
}

/** `func=auth` sessions, aged by the sandbox clock. */
export class Sessions {
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly clock: () => Date) {}

  open(): string {
    const id = randomBytes(16).toString("hex");
    this.lastSeen.set(id, this.clock().getTime());
    return id;
  }

  /** Whether the session is alive; a live session's idle time starts again. */
  touch(id: string): boolean {
    const now = this.clock().getTime();
    const seen = this.lastSeen.get(id);
    if (seen === undefined || now - seen >= SESSION_IDLE_MS) {
      this.lastSeen.delete(id);
      return false;
    }
    this.lastSeen.set(id, now);
    return true;
  }

  get size(): number {
    return this.lastSeen.size;
  }
}

/** Checks the credentials of a vendor call (`authinfo` or `auth`); throws the vendor's auth error. */
export function authenticate(
  params: Readonly<Record<string, string>>,
  account: Account,
  sessions: Sessions,
): void {
  const authinfo = params.authinfo;
  if (authinfo !== undefined) {
    const parts = splitCredentials(authinfo);
    if (parts && account.verify(parts.user, parts.password)) return;
    throw authError();
  }
  const session = params.auth;
  if (session !== undefined && sessions.touch(session)) return;
  throw authError();
}

/** `func=auth&username=&password=`: a new session id, or the auth error. */
export function login(
  params: Readonly<Record<string, string>>,
  account: Account,
  sessions: Sessions,
): string {
  if (!account.verify(params.username ?? "", params.password ?? "")) throw authError();
  return sessions.open();
}
