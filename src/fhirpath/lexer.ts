/**
 * FHIRPath lexer: the lexical rules of the N1 grammar (http://hl7.org/fhirpath/N1/grammar.html),
 * plus two FHIRPath 2.0 additions that R4 content already uses: the long literal `123L` and the
 * partial dateTime `@2014T`. Tokens are produced on demand, so the parser reports the leftmost
 * error; the lexer never throws, it returns a `LexError` that the parser turns into a
 * FhirPathSyntaxError.
 */

export type TokenKind =
  /** Plain identifier, including keywords (`and`, `div`, `as`, `true`, `days`...). */
  | 'word'
  /** Backtick identifier; never a keyword. */
  | 'delimited'
  | 'string'
  | 'integer'
  | 'decimal'
  | 'long'
  | 'date'
  | 'dateTime'
  | 'time'
  /** `$this`, `$index`, `$total` (value without `$`). */
  | 'special'
  /** Operators and punctuation: `. [ ] ( ) { } , + - * / & | < > <= >= = ~ != !~ %`. */
  | 'punct'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /**
   * Decoded value: unescaped name or string, number digits as written (`long` without `L`),
   * date/dateTime without `@`, time without `@T`, punctuation text.
   */
  readonly value: string;
  /** 0-based offsets (UTF-16 code units) into the source text. */
  readonly start: number;
  readonly end: number;
}

export interface LexError {
  readonly kind: 'error';
  /** What the lexer expected, phrased to follow "Expected ". */
  readonly expected: string;
  readonly position: number;
  /** The offending source text, or null at the end of the expression. */
  readonly found: string | null;
}

export type LexResult = Token | LexError;

const TWO_CHAR_PUNCT: ReadonlySet<string> = new Set(['<=', '>=', '!=', '!~']);
const ONE_CHAR_PUNCT: ReadonlySet<string> = new Set([...'.[](){},+-*/&|<>=~%']);

/** N1 ESC fragment (plus `\"`, which N1 lists and 2.0 dropped; accepting it is harmless). */
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "'": "'",
  '"': '"',
  '`': '`',
  '\\': '\\',
  '/': '/',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
const ESCAPE_HELP =
  'an escape sequence (\\\', \\", \\`, \\\\, \\/, \\f, \\n, \\r, \\t or \\uXXXX; write \\\\ for a backslash)';
const TEMPORAL_HELP =
  "a date, dateTime or time after '@' (e.g. @2014-01-25, @2014-01-25T14:30:00Z, @T14:30)";

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isIdentStart = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_');
const isIdentPart = (c: string | undefined): boolean => isIdentStart(c) || isDigit(c);

export class Lexer {
  private pos = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  next(): LexResult {
    const trivia = this.skipTrivia();
    if (trivia) return trivia;
    const text = this.text;
    const start = this.pos;
    if (start >= text.length) return this.token('eof', '', start);
    const c = text[start];

    if (isIdentStart(c)) {
      let i = start + 1;
      while (isIdentPart(text[i])) i++;
      return this.token('word', text.slice(start, i), i);
    }
    if (isDigit(c)) return this.number();
    switch (c) {
      case "'":
        return this.quoted("'", 'string');
      case '`':
        return this.quoted('`', 'delimited');
      case '@':
        return this.temporal();
      case '$':
        return this.special();
    }
    const two = text.slice(start, start + 2);
    if (TWO_CHAR_PUNCT.has(two)) return this.token('punct', two, start + 2);
    if (ONE_CHAR_PUNCT.has(c)) return this.token('punct', c, start + 1);
    if (c === '!') return error("'!=' or '!~'", start, '!');
    if (c === '"') {
      return error("a FHIRPath token (strings use single quotes: 'text')", start, '"');
    }
    return error('a FHIRPath token', start, String.fromCodePoint(text.codePointAt(start) ?? 0));
  }

  private token(kind: TokenKind, value: string, end: number): Token {
    const start = this.pos;
    this.pos = end;
    return { kind, value, start, end };
  }

  /** Whitespace is `[ \r\n\t]` per the grammar; comments are `//...` and `/* ... *\/`. */
  private skipTrivia(): LexError | null {
    const text = this.text;
    for (;;) {
      const c = text[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.pos++;
      } else if (c === '/' && text[this.pos + 1] === '/') {
        while (this.pos < text.length && text[this.pos] !== '\n' && text[this.pos] !== '\r') {
          this.pos++;
        }
      } else if (c === '/' && text[this.pos + 1] === '*') {
        const close = text.indexOf('*/', this.pos + 2);
        if (close < 0) {
          return error("'*/' to close the comment", this.pos, null);
        }
        this.pos = close + 2;
      } else {
        return null;
      }
    }
  }

  /** NUMBER: [0-9]+('.'[0-9]+)?, LONGNUMBER: [0-9]+'L'. A '.' not followed by a digit is an invocation. */
  private number(): Token {
    const text = this.text;
    let i = this.pos;
    while (isDigit(text[i])) i++;
    if (text[i] === '.' && isDigit(text[i + 1])) {
      i++;
      while (isDigit(text[i])) i++;
      return this.token('decimal', text.slice(this.pos, i), i);
    }
    if (text[i] === 'L' && !isIdentPart(text[i + 1])) {
      return this.token('long', text.slice(this.pos, i), i + 1);
    }
    return this.token('integer', text.slice(this.pos, i), i);
  }

  /** STRING and DELIMITEDIDENTIFIER share the ESC fragment; raw newlines are allowed inside. */
  private quoted(quote: "'" | '`', kind: 'string' | 'delimited'): LexResult {
    const text = this.text;
    const start = this.pos;
    let out = '';
    let i = start + 1;
    for (;;) {
      if (i >= text.length) {
        // Point at the opening quote: the end of the text says nothing about where to fix.
        const what = kind === 'string' ? 'string' : 'delimited identifier';
        return error(`a closing ${quote} for the ${what}`, start, null);
      }
      const ch = text[i];
      if (ch === quote) return this.token(kind, out, i + 1);
      if (ch !== '\\') {
        out += ch;
        i++;
        continue;
      }
      const esc = text[i + 1];
      if (esc === undefined) {
        i++;
        continue; // reports the missing closing quote
      }
      const simple = SIMPLE_ESCAPES[esc];
      if (simple !== undefined) {
        out += simple;
        i += 2;
        continue;
      }
      const hex = text.slice(i + 2, i + 6);
      if (esc === 'u' && /^[0-9A-Fa-f]{4}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      // Strict on purpose: silently dropping the backslash (as some engines do) corrupts regexes.
      return error(ESCAPE_HELP, i, esc === 'u' ? text.slice(i, i + 6) : text.slice(i, i + 2));
    }
  }

  /**
   * DATE: '@' YYYY(-MM(-DD)?)?; DATETIME: DATE 'T' (TIME TZ?)?; TIME: '@T' hh(:mm(:ss(.f+)?)?)?.
   * Like ANTLR, take the longest match and leave the rest (e.g. `@2014-1` is `@2014` then `-1`).
   */
  private temporal(): LexResult {
    const text = this.text;
    const start = this.pos;
    let i = start + 1;
    if (text[i] === 'T') {
      const end = this.timeFormat(i + 1);
      if (end === i + 1) return error(TEMPORAL_HELP, start, this.runFrom(start));
      return this.token('time', text.slice(i + 1, end), end);
    }
    if (!this.digits(i, 4)) return error(TEMPORAL_HELP, start, this.runFrom(start));
    i += 4;
    if (text[i] === '-' && this.digits(i + 1, 2)) {
      i += 3;
      if (text[i] === '-' && this.digits(i + 1, 2)) i += 3;
    }
    if (text[i] !== 'T') return this.token('date', text.slice(start + 1, i), i);
    i++;
    const timeEnd = this.timeFormat(i);
    if (timeEnd > i) i = this.timeZone(timeEnd);
    return this.token('dateTime', text.slice(start + 1, i), i);
  }

  private timeFormat(from: number): number {
    const text = this.text;
    if (!this.digits(from, 2)) return from;
    let i = from + 2;
    if (text[i] === ':' && this.digits(i + 1, 2)) {
      i += 3;
      if (text[i] === ':' && this.digits(i + 1, 2)) {
        i += 3;
        if (text[i] === '.' && isDigit(text[i + 1])) {
          i++;
          while (isDigit(text[i])) i++;
        }
      }
    }
    return i;
  }

  private timeZone(from: number): number {
    const text = this.text;
    if (text[from] === 'Z') return from + 1;
    const sign = text[from];
    if (
      (sign === '+' || sign === '-') &&
      this.digits(from + 1, 2) &&
      text[from + 3] === ':' &&
      this.digits(from + 4, 2)
    ) {
      return from + 6;
    }
    return from;
  }

  private special(): LexResult {
    const text = this.text;
    const start = this.pos;
    let i = start + 1;
    while (isIdentPart(text[i])) i++;
    const name = text.slice(start + 1, i);
    if (name === 'this' || name === 'index' || name === 'total') {
      return this.token('special', name, i);
    }
    return error('$this, $index or $total', start, text.slice(start, i));
  }

  private digits(from: number, count: number): boolean {
    for (let k = 0; k < count; k++) if (!isDigit(this.text[from + k])) return false;
    return true;
  }

  /** The malformed literal as the user sees it, for error messages. */
  private runFrom(start: number): string {
    let i = start + 1;
    while (i < this.text.length && /[@0-9A-Za-z_:-]/.test(this.text[i])) i++;
    return this.text.slice(start, i);
  }
}

function error(expected: string, position: number, found: string | null): LexError {
  return { kind: 'error', expected, position, found };
}
