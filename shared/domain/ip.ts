import { isIP } from "node:net";

/**
 * The one written form of a licence's IP address. The vendor stores IPv6 in its short lower-case form
 * (RFC 5952), so an address sent as `2001:DB8:0:0:0:0:0:1` comes back as `2001:db8::1`: comparing what we
 * sent with what the vendor lists only works if both sides write it the same way. The API, the domain and
 * the sandbox all use this module. It works on the exact text: callers trim first.
 */

/** Why `text` cannot be a licence's address, or undefined when it can. */
export function ipProblem(text: string): string | undefined {
  const version = isIP(text);
  if (version === 0) return "must be an IPv4 or IPv6 address";
  // An interface scope only means something on one host; the vendor binds a licence to an address.
  if (text.includes("%"))
    return "must not carry a zone id (the '%' part): a licence binds an address, not an interface";
  const groups = version === 6 ? parseIpv6(text) : undefined;
  const v4 = groups ? mappedIpv4(groups) : text;
  const shown = groups && v4 !== undefined ? `${text}, IPv4-mapped ${v4}` : text;
  if (v4 === "0.0.0.0" || groups?.every((g) => g === 0))
    return `must not be the unspecified address (${shown})`;
  if (v4?.startsWith("127.") || (groups && isIpv6Loopback(groups))) {
    return `must not be a loopback address (${shown})`;
  }
  return undefined;
}

/**
 * The canonical form of an address a licence can be bound to, or undefined when `ipProblem` refuses it.
 * IPv4 stays dotted decimal (node refuses leading zeros); IPv6 follows RFC 5952: lower case, no leading
 * zeros, the longest run of two or more zero groups written `::` (the leftmost on a tie), and IPv4-mapped
 * addresses as `::ffff:a.b.c.d`.
 */
export function canonicalIp(text: string): string | undefined {
  if (ipProblem(text) !== undefined) return undefined;
  if (isIP(text) === 4) return text;
  const groups = parseIpv6(text);
  const v4 = mappedIpv4(groups);
  return v4 === undefined ? formatIpv6(groups) : `::ffff:${v4}`;
}

/** Eight 16-bit groups of an address `isIP` already accepted as IPv6 without a zone id. */
function parseIpv6(text: string): number[] {
  const halves = text.split("::");
  const side = (part: string | undefined): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const piece of part.split(":")) {
      if (piece.includes(".")) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split(".").map(Number);
        out.push(a * 256 + b, c * 256 + d);
      } else {
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = side(halves[0]);
  const tail = side(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  return [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

function isIpv6Loopback(groups: number[]): boolean {
  return groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

/** The IPv4 address inside `::ffff:0:0/96`, dotted, or undefined for any other IPv6 address. */
function mappedIpv4(groups: number[]): string | undefined {
  if (!groups.slice(0, 5).every((g) => g === 0) || groups[5] !== 0xffff) return undefined;
  const high = groups[6] ?? 0;
  const low = groups[7] ?? 0;
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}

function formatIpv6(groups: number[]): string {
  // The longest run of zero groups; `>` keeps the leftmost of equal runs.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  // A single zero group stays `0`: RFC 5952 4.2.2.
  if (bestLength < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
