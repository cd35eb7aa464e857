/** An amount in minor units (cents) and its ISO 4217 currency, if known. */
export interface Money {
  minor: number;
  currency: string | undefined;
}

/** Symbols billing panels print instead of a code. */
const SYMBOLS: Record<string, string> = {
  "€": "EUR",
  $: "USD",
  "£": "GBP",
  "₽": "RUB",
  "₸": "KZT",
  "₴": "UAH",
  "руб.": "RUB",
  руб: "RUB",
  "р.": "RUB",
};

const CURRENCY = /^(?:[A-Za-z]{3}|[€$£₽₸₴]|руб\.?|р\.)$/u;

/**
 * An amount as billing panels print it: "1,234.56 USD", "123.45 €", "€123.45", "1 234,56 RUB",
 * "1.234,56 EUR", "-12.00", "USD 5". The last `.` or `,` followed by one or two digits is the decimal
 * mark; other separators (spaces, commas, dots before three digits) group thousands. Undefined for
 * anything else: a forecast must never be made from a misread balance.
 */
export function parseMoney(text: string, currencyField?: string): Money | undefined {
  const trimmed = text.replace(/[\u00a0\u202f]/g, " ").trim();
  const match = /^([^\d\s-]+)?\s*(-?[\d.,' ]*\d)\s*([^\d\s]+)?$/u.exec(trimmed);
  if (!match) return undefined;
  const [, before, number, after] = match;
  if (before !== undefined && after !== undefined) return undefined;
  const unit = before ?? after;
  if (unit !== undefined && !CURRENCY.test(unit)) return undefined;
  const minor = parseAmount(number as string);
  if (minor === undefined) return undefined;
  const currency = unit === undefined ? normalCode(currencyField) : (SYMBOLS[unit] ?? unit.toUpperCase());
  return { minor, currency };
}

function normalCode(code: string | undefined): string | undefined {
  const trimmed = code?.trim();
  if (!trimmed) return undefined;
  return SYMBOLS[trimmed] ?? (/^[A-Za-z]{3}$/.test(trimmed) ? trimmed.toUpperCase() : undefined);
}

function parseAmount(raw: string): number | undefined {
  const negative = raw.startsWith("-");
  const body = negative ? raw.slice(1) : raw;
  const decimal = /[.,](\d{1,2})$/.exec(body);
  const whole = decimal ? body.slice(0, decimal.index) : body;
  // Thousands groups: digits, then groups of exactly three after one kind of separator.
  if (!/^\d{1,3}(?:([.,' ])\d{3})?(?:\1\d{3})*$/.test(whole) && !/^\d+$/.test(whole)) return undefined;
  const fraction = decimal ? (decimal[1] as string).padEnd(2, "0") : "00";
  const minor = Number(whole.replace(/[.,' ]/g, "")) * 100 + Number(fraction);
  if (!Number.isSafeInteger(minor)) return undefined;
  return negative ? -minor : minor;
}

/** "1,234.56 EUR": always two decimals, thousands grouped, the code after. */
export function formatMoney(money: Money): string {
  const sign = money.minor < 0 ? "-" : "";
  const abs = Math.abs(money.minor);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  const cents = String(abs % 100).padStart(2, "0");
  return `${sign}${whole}.${cents}${money.currency ? ` ${money.currency}` : ""}`;
}
