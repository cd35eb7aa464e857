/**
 * The vendor's answer documents. Handlers build a small tree; this module writes it as the
 * vendor's XML (`out=xml`) or the vendor's JSON (`out=json`), so both formats always carry the
 * same content.
 */
export interface Node {
  readonly name: string;
  readonly attrs?: Readonly<Record<string, string>>;
  /** Text content; empty or missing text renders as an empty element. */
  readonly text?: string;
  readonly children?: readonly Node[];
}

export interface VendorDoc {
  readonly func: string;
  readonly children: readonly Node[];
}

export type OutFormat = "xml" | "json";

/** Element names the vendor's JSON always writes as arrays, even with one entry. */
const ALWAYS_ARRAY = new Set(["elem"]);

export function el(name: string, text?: string | number, attrs?: Record<string, string>): Node {
  return {
    name,
    ...(text === undefined ? {} : { text: String(text) }),
    ...(attrs ? { attrs } : {}),
  };
}

export function parent(name: string, children: readonly Node[], attrs?: Record<string, string>): Node {
  return { name, children, ...(attrs ? { attrs } : {}) };
}

export function ok(): Node {
  return el("ok");
}

/** The vendor's error element, in the shape of fixtures/billmgr/error-*.xml. */
export function errorNode(type: string, object: string, value: string, message: string): Node {
  return parent(
    "error",
    [
      el("param", object, { name: "object", type: "msg" }),
      el("param", value, { name: "value" }),
      el("msg", message),
    ],
    { type, object, lang: "en" },
  );
}

function withoutNodes(nodes: readonly Node[], name: string): Node[] {
  return nodes
    .filter((node) => node.name !== name)
    .map((node) => (node.children ? { ...node, children: withoutNodes(node.children, name) } : node));
}

/** The document with every element called `name` left out, however deep (for the `no-expiry` fault). */
export function withoutElements(doc: VendorDoc, name: string): VendorDoc {
  return { func: doc.func, children: withoutNodes(doc.children, name) };
}

function docAttrs(func: string): Record<string, string> {
  return { lang: "en", func, binary: "/billmgr" };
}

/** The characters XML 1.0 can carry at all, even escaped. */
function isXmlChar(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    codePoint >= 0x10000
  );
}

/** Keeps every answer well-formed whatever a caller sent (an invalid value echoed in an error, say). */
function xmlSafe(text: string): string {
  let out = "";
  for (const char of text) out += isXmlChar(char.codePointAt(0) ?? 0) ? char : "\uFFFD";
  return out;
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** How the XML writes text: as UTF-8 (the default), or with every non-ASCII character as a reference. */
export interface XmlStyle {
  /** The `numericReferences` quirk. */
  readonly numericReferences?: boolean;
}

export function escapeXml(text: string, style: XmlStyle = {}): string {
  const escaped = xmlSafe(text).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
  return style.numericReferences ? numericReferences(escaped) : escaped;
}

/**
 * Every non-ASCII character as a numeric character reference, decimal and hex in turn within each
 * value (`Тест` is `&#1058;&#x435;&#1089;&#x442;`), so a client must read both forms, astral ones too.
 */
export function numericReferences(text: string): string {
  let n = 0;
  return text.replace(/\P{ASCII}/gu, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return n++ % 2 === 0 ? `&#${code};` : `&#x${code.toString(16).toUpperCase()};`;
  });
}

function nodeXml(node: Node, style: XmlStyle): string {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v, style)}"`)
    .join("");
  const inner =
    (node.text ? escapeXml(node.text, style) : "") +
    (node.children ?? []).map((child) => nodeXml(child, style)).join("");
  return inner === "" ? `<${node.name}${attrs}/>` : `<${node.name}${attrs}>${inner}</${node.name}>`;
}

export function renderXml(doc: VendorDoc, style: XmlStyle = {}): string {
  const root = nodeXml({ name: "doc", attrs: docAttrs(doc.func), children: doc.children }, style);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}`;
}

type JsonValue = Record<string, unknown>;

function nodeJson(node: Node): JsonValue {
  const out: JsonValue = {};
  for (const [k, v] of Object.entries(node.attrs ?? {})) out[`$${k}`] = v;
  const groups = new Map<string, Node[]>();
  for (const child of node.children ?? []) {
    const group = groups.get(child.name);
    if (group) group.push(child);
    else groups.set(child.name, [child]);
  }
  for (const [name, group] of groups) {
    out[name] = group.length > 1 || ALWAYS_ARRAY.has(name) ? group.map(nodeJson) : nodeJson(group[0] as Node);
  }
  if (node.text) out.$ = node.text;
  return out;
}

export function renderJson(doc: VendorDoc): string {
  return JSON.stringify({
    doc: nodeJson({ name: "doc", attrs: docAttrs(doc.func), children: doc.children }),
  });
}

/** JSON has no character references: the style applies to XML only. */
export function render(doc: VendorDoc, out: OutFormat, style: XmlStyle = {}): string {
  return out === "json" ? renderJson(doc) : renderXml(doc, style);
}

export function contentType(out: OutFormat): string {
  return out === "json" ? "application/json; charset=UTF-8" : "text/xml; charset=UTF-8";
}

/**
 * The head of an answer cut off mid-element, like fixtures/billmgr/truncated.xml: the document
 * never closes, so no parser can take it for a complete answer.
 */
export function truncated(func: string, out: OutFormat): string {
  if (out === "json") {
    return `{"doc":{"$lang":"en","$func":${JSON.stringify(func)},"$binary":"/billmgr","elem":[{"id":{"$":"25`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<doc lang="en" func="${escapeXml(func)}" binary="/billmgr"><elem><id>25`;
}
