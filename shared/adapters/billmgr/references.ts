/**
 * The vendor's XML decoded fully, in one pass: the five entities XML predefines and numeric character
 * references, decimal (`&#1058;`) and hex (`&#x422;`, `&#x1F600;`). A vendor that escapes non-ASCII
 * that way must give the same name as one that sends UTF-8, or an order's name never matches the list.
 *
 * One pass, so `&amp;#1058;` is the text `&#1058;`, never `Т`. Anything else stays as written, `&` and
 * all: a reference to a code point XML 1.0 cannot carry (`&#0;`, `&#xD800;`, `&#xFFFE;`, beyond
 * U+10FFFF), a malformed one (`&#X41;`, `&#12abc;`, `&#;`), an HTML entity (`&nbsp;`) or one declared in
 * a DTD (the vendor declares none, and expanding them invites entity bombs). Nothing is dropped or
 * replaced silently: what the vendor sent stays readable.
 */
const REFERENCE = /&(?:#([0-9]+)|#x([0-9A-Fa-f]+)|(amp|lt|gt|quot|apos));/g;

const NAMED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** XML 1.0's Char production: what a reference may name. */
export function isXmlChar(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff)
  );
}

export function decodeReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(REFERENCE, (whole, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED[name] ?? whole;
    const codePoint = decimal !== undefined ? Number(decimal) : Number.parseInt(hex ?? "", 16);
    return isXmlChar(codePoint) ? String.fromCodePoint(codePoint) : whole;
  });
}

/**
 * The decoder fast-xml-parser calls for text and attribute values (its own decodes numeric references
 * only together with HTML's named entities, drops invalid ones silently and reads `&# 65;` as `A`).
 * Entities a document declares are not kept, so none is ever expanded.
 */
export const xmlReferenceDecoder = {
  decode: decodeReferences,
  reset(): void {},
  setXmlVersion(_version: number): void {},
  addInputEntities(_entities: Record<string, string>): void {},
  setExternalEntities(_entities: Record<string, string>): void {},
};
