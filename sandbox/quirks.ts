import { isIP } from "node:net";

/**
 * Persistent habits of the vendor (unlike faults, which hit the next calls only). The real vendor
 * normalises what it stores, so those two quirks are on by default; the others reproduce a vendor
 * under load or mid-change and are off until a test turns them on.
 */
export interface Quirks {
  /** Store and answer IPv6 in its short lower-case form (RFC 5952); IPv4 is kept as sent. */
  normaliseIp: boolean;
  /** Replace what the backend cannot store (U+FFFE, U+FFFF, lone surrogates) with U+FFFD. */
  normaliseNames: boolean;
  /** `func=soft` serves at most this many rows per page, whatever `p_cnt` asks; null: no cap. */
  pageCap: number | null;
  /** `func=soft` leaves out `p_elems` and `p_cnt`, so a client can only stop at a short or empty page. */
  omitPageTotal: boolean;
  /** Sandbox-clock ms an ordered licence is active (status 2) with an empty key; 0: the key comes with it. */
  keyDelayMs: number;
  /** XML answers write every non-ASCII character as a numeric reference, decimal and hex in turn. */
  numericReferences: boolean;
  /** `func=soft` serves page 1 whatever `p_num` asks (and answers `p_num` 1). */
  ignorePageNumber: boolean;
}

export const DEFAULT_QUIRKS: Readonly<Quirks> = {
  normaliseIp: true,
  normaliseNames: true,
  pageCap: null,
  omitPageTotal: false,
  keyDelayMs: 0,
  numericReferences: false,
  ignorePageNumber: false,
};

const KEYS = Object.keys(DEFAULT_QUIRKS) as (keyof Quirks)[];

type BooleanQuirk = {
  [K in keyof Quirks]: Quirks[K] extends boolean ? K : never;
}[keyof Quirks];

function booleanQuirk(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new RangeError(`quirk ${name} must be true or false`);
  return value;
}

function integerQuirk(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`quirk ${name} must be an integer >= ${min}`);
  }
  return value;
}

/**
 * `base` with the quirks named in `changes` replaced; unknown names and bad values are refused
 * whole, so a typo never leaves the sandbox half-changed. `pageCap: null` removes the cap.
 */
export function mergeQuirks(base: Readonly<Quirks>, changes: unknown): Quirks {
  if (typeof changes !== "object" || changes === null || Array.isArray(changes)) {
    throw new RangeError("quirks must be a JSON object");
  }
  const next: Quirks = { ...base };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    switch (name as keyof Quirks) {
      case "normaliseIp":
      case "normaliseNames":
      case "omitPageTotal":
      case "numericReferences":
      case "ignorePageNumber":
        next[name as BooleanQuirk] = booleanQuirk(name, value);
        break;
      case "pageCap":
        next.pageCap = value === null ? null : integerQuirk(name, value, 1);
        break;
      case "keyDelayMs":
        next.keyDelayMs = integerQuirk(name, value, 0);
        break;
      default:
        throw new RangeError(`unknown quirk ${name}; known: ${KEYS.join(", ")}`);
    }
  }
  return next;
}

/**
 * An IPv6 address in RFC 5952 form: lower case, no leading zeros, the longest run of zero groups
 * as `::`, an IPv4-mapped address with its IPv4 part dotted. Anything else is returned as is.
 */
export function canonicalIpv6(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  // The WHATWG URL serialiser already follows RFC 5952 for everything but IPv4-mapped addresses.
  const short = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(short);
  if (!mapped) return short;
  const [high, low] = [Number.parseInt(mapped[1] ?? "0", 16), Number.parseInt(mapped[2] ?? "0", 16)];
  return `::ffff:${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** U+FFFE, U+FFFF and lone surrogates become U+FFFD, as a backend without them stores the text. */
export function storableText(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const unstorable = code === 0xfffe || code === 0xffff || (code >= 0xd800 && code <= 0xdfff);
    out += unstorable ? "\uFFFD" : char;
  }
  return out;
}
