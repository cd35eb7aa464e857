import { XMLParser, XMLValidator } from "fast-xml-parser";
import { xmlReferenceDecoder } from "./references.ts";

/**
 * The vendor's answer in one normal form, whichever `out` produced it:
 * an element is either its text (a string) or an object of attributes (`@_name`),
 * children (repeated ones as arrays) and text (`#text`).
 */
export type VendorNode = string | VendorElement;
export interface VendorElement {
  [name: string]: VendorNode | VendorNode[] | undefined;
}

export type Format = "xml" | "json";

export type ParsedAnswer =
  | { ok: true; doc: VendorElement }
  | { ok: false; reason: "vendor_error"; type: string; object: string | undefined; message: string }
  | { ok: false; reason: "not_vendor_document"; detail: string };

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  // Ids such as "0012" and dates must stay strings; numbers are read where their meaning is known.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  // Named and numeric references alike, in one pass (references.ts says what stays as written).
  entityDecoder: xmlReferenceDecoder,
  ignoreDeclaration: true,
  jPath: false,
});

export function parseAnswer(body: string, format: Format): ParsedAnswer {
  const root = format === "xml" ? readXml(body) : readJson(body);
  if (typeof root === "string") return { ok: false, reason: "not_vendor_document", detail: root };
  const error = child(root, "error");
  if (error !== undefined) {
    return {
      ok: false,
      reason: "vendor_error",
      type: attr(error, "type") ?? "unknown",
      object: attr(error, "object") || undefined,
      message: text(child(error, "msg")) || text(child(error, "detail")) || "no message",
    };
  }
  return { ok: true, doc: root };
}

/** The `<doc>` element, or a reason why the body is not the vendor's document. */
function readXml(body: string): VendorElement | string {
  // The parser accepts unclosed tags, so a cut-off answer must never reach it unchecked: the full
  // validator decides whenever the cheap proof below cannot.
  if (!closesItsRoot(body)) {
    const valid = XMLValidator.validate(body);
    if (valid !== true) return `malformed XML (${valid.err.code})`;
  }
  const tree = xmlParser.parse(body) as Record<string, unknown>;
  const doc = tree.doc;
  if (doc === undefined) return "XML without a <doc> root";
  if (Array.isArray(doc) || Object.keys(tree).length > 1) return "XML with more than one root";
  return doc === "" ? {} : typeof doc === "string" ? { "#text": doc } : (doc as VendorElement);
}

/**
 * A cheap proof that a `<doc>` answer is not cut off, a few scans instead of validating it all (which
 * cost as much again as parsing it): the body ends with `</doc>`, and every `<doc` it opens is closed.
 * A prefix of a whole answer fails this: if its last `</doc>` closes a nested `<doc>` (the renewal's
 * answer has one), the root is still open and there is one `<doc` more than `</doc>`. The count only
 * holds while every `<` is markup: a `<` cannot stand in text or attribute values, but it can in
 * comments, CDATA and processing instructions, so with any of those (the vendor sends none) this
 * proves nothing and the validator decides.
 */
export function closesItsRoot(body: string): boolean {
  if (!body.trimEnd().endsWith("</doc>")) return false;
  if (body.includes("<!") || body.indexOf("<?", 1) !== -1) return false;
  return count(body, "<doc") === count(body, "</doc");
}

/** Tags named exactly `tag` (`<doc` but not `<docs`). */
function count(body: string, tag: string): number {
  let n = 0;
  for (let at = body.indexOf(tag); at !== -1; at = body.indexOf(tag, at + tag.length)) {
    if (NAME_ENDS.has(body.charCodeAt(at + tag.length))) n++;
  }
  return n;
}

/** What may follow an element's name in a tag: white space, `>` or `/`. */
const NAME_ENDS = new Set([0x20, 0x09, 0x0a, 0x0d, 0x3e, 0x2f]);

function readJson(body: string): VendorElement | string {
  let tree: unknown;
  try {
    tree = JSON.parse(body);
  } catch {
    return "malformed JSON";
  }
  const doc = isRecord(tree) ? tree.doc : undefined;
  if (!isRecord(doc)) return "JSON without a doc object";
  const normal = fromJson(doc);
  return typeof normal === "string" ? { "#text": normal } : normal;
}

/** `out=json` writes attributes as `$name` and text as `$`; map both to the XML normal form. */
function fromJson(value: unknown): VendorNode {
  if (!isRecord(value)) return value === null || value === undefined ? "" : String(value);
  const keys = Object.keys(value);
  if (keys.length === 0) return "";
  if (keys.length === 1 && keys[0] === "$") return String(value.$);
  const element: VendorElement = {};
  for (const key of keys) {
    const item = value[key];
    if (key === "$") element["#text"] = String(item);
    else if (key.startsWith("$")) element[`@_${key.slice(1)}`] = String(item);
    else element[key] = Array.isArray(item) ? item.map(fromJson) : fromJson(item);
  }
  return element;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The first child of that name (the vendor repeats an element only where a list is meant). */
export function child(node: VendorNode | undefined, name: string): VendorNode | undefined {
  if (node === undefined || typeof node === "string") return undefined;
  const value = node[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every child of that name, as a list. */
export function children(node: VendorNode | undefined, name: string): VendorNode[] {
  if (node === undefined || typeof node === "string") return [];
  const value = node[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function text(node: VendorNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (typeof node === "string") return node;
  const value = node["#text"];
  return typeof value === "string" ? value : undefined;
}

export function attr(node: VendorNode | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === "string") return undefined;
  const value = node[`@_${name}`];
  return typeof value === "string" ? value : undefined;
}

/** Text of a child element, trimmed; empty elements read as undefined. */
export function field(node: VendorNode | undefined, name: string): string | undefined {
  const value = text(child(node, name))?.trim();
  return value ? value : undefined;
}
