/**
 * FHIRPath parser (N1 grammar, http://hl7.org/fhirpath/N1/grammar.html) producing the AST in
 * ./ast.ts. A precedence-climbing parser: the grammar's left-recursive `expression` rule lists
 * its operators from tightest to loosest, which maps directly onto the table below.
 */
import type { BinaryOp, FhirPathNode } from './ast.js';
import { Lexer } from './lexer.js';
import type { LexResult, Token } from './lexer.js';

/** A FHIRPath expression that does not follow the grammar. */
export class FhirPathSyntaxError extends Error {
  readonly code = 'FHIRPATH_SYNTAX';
  /** 0-based offset (UTF-16 code units) into `expression`. */
  readonly position: number;
  readonly expression: string;
  /** What the parser expected, e.g. `')'`. */
  readonly expected: string;
  /** What it found instead, e.g. `'name'` or `end of expression`. */
  readonly found: string;

  constructor(expression: string, position: number, expected: string, found: string) {
    super(
      `Expected ${expected} at position ${position} in ${JSON.stringify(expression)} but found ${found}`,
    );
    this.name = 'FhirPathSyntaxError';
    this.expression = expression;
    this.position = position;
    this.expected = expected;
    this.found = found;
  }
}

/** Parses one FHIRPath expression; throws FhirPathSyntaxError on any deviation from the grammar. */
export function parseFhirPath(text: string): FhirPathNode {
  return new Parser(text).parseAll();
}

type InfixOp = BinaryOp | 'is' | 'as';

/** §Operator precedence (N1 grammar order): larger binds tighter; all left-associative. */
const PRECEDENCE: Readonly<Record<InfixOp, number>> = {
  implies: 1,
  or: 2,
  xor: 2,
  and: 3,
  in: 4,
  contains: 4,
  '=': 5,
  '~': 5,
  '!=': 5,
  '!~': 5,
  '<': 6,
  '>': 6,
  '<=': 6,
  '>=': 6,
  '|': 7,
  is: 8,
  as: 8,
  '+': 9,
  '-': 9,
  '&': 9,
  '*': 10,
  '/': 10,
  div: 10,
  mod: 10,
};
/** Polarity binds tighter than `*` but looser than `.` and `[]`: `-a.b` is `-(a.b)`. */
const UNARY_PRECEDENCE = 11;

const SYMBOL_OPS: ReadonlyMap<string, InfixOp> = new Map(
  (['*', '/', '+', '-', '&', '|', '<', '>', '<=', '>=', '=', '~', '!=', '!~'] as const).map(
    (op) => [op, op],
  ),
);
const WORD_OPS: ReadonlyMap<string, InfixOp> = new Map(
  (['div', 'mod', 'is', 'as', 'in', 'contains', 'and', 'or', 'xor', 'implies'] as const).map(
    (op) => [op, op],
  ),
);

/**
 * Keywords that cannot start a term. The grammar also reserves `div`, `mod`, the calendar
 * words, etc., but those are unambiguous where a term is expected and `div` is a real FHIR
 * element (Narrative.div), so only the pure logical operators are rejected there.
 */
const RESERVED_AT_TERM_START: ReadonlySet<string> = new Set(['and', 'or', 'xor', 'implies']);

/** §Quantity: calendar duration keywords usable as a unit after a number. */
const CALENDAR_UNITS: ReadonlySet<string> = new Set([
  'year',
  'years',
  'month',
  'months',
  'week',
  'weeks',
  'day',
  'days',
  'hour',
  'hours',
  'minute',
  'minutes',
  'second',
  'seconds',
  'millisecond',
  'milliseconds',
]);

/** Guards the recursion so absurd nesting is a syntax error rather than a stack overflow. */
const MAX_DEPTH = 300;

class Parser {
  private readonly text: string;
  private readonly lexer: Lexer;
  private readonly buffer: LexResult[] = [];
  private depth = 0;

  constructor(text: string) {
    this.text = text;
    this.lexer = new Lexer(text);
  }

  parseAll(): FhirPathNode {
    const node = this.parseExpression(0);
    const next = this.peek();
    if (next.kind !== 'eof') this.fail('an operator or end of expression', next);
    return node;
  }

  private parseExpression(minPrecedence: number): FhirPathNode {
    if (++this.depth > MAX_DEPTH) {
      const at = this.peek();
      throw new FhirPathSyntaxError(
        this.text,
        at.start,
        `at most ${MAX_DEPTH} levels of nesting`,
        'deeper nesting',
      );
    }
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if (isPunct(t, '.')) {
        this.advance();
        left = this.parseInvocation(left);
        continue;
      }
      if (isPunct(t, '[')) {
        this.advance();
        const index = this.parseExpression(0);
        this.expectPunct(']');
        left = { kind: 'index', target: left, index };
        continue;
      }
      const op = infixOp(t);
      if (op === undefined || PRECEDENCE[op] < minPrecedence) break;
      this.advance();
      if (op === 'is' || op === 'as') {
        left = { kind: 'typeop', op, operand: left, typeName: this.parseTypeSpecifier(op) };
      } else {
        // Left-associative: the right operand only takes strictly tighter operators.
        const right = this.parseExpression(PRECEDENCE[op] + 1);
        left = { kind: 'binary', op, left, right };
      }
    }
    this.depth--;
    return left;
  }

  private parseUnary(): FhirPathNode {
    const t = this.peek();
    if (isPunct(t, '-') || isPunct(t, '+')) {
      this.advance();
      const operand = this.parseExpression(UNARY_PRECEDENCE);
      return { kind: 'unary', op: t.value === '-' ? '-' : '+', operand };
    }
    return this.parseTerm();
  }

  /** term: invocation | literal | externalConstant | '(' expression ')'. */
  private parseTerm(): FhirPathNode {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
        this.advance();
        return { kind: 'literal', type: 'string', value: t.value };
      case 'integer':
      case 'decimal':
        this.advance();
        return this.parseNumberOrQuantity(t);
      case 'long':
      case 'date':
      case 'dateTime':
      case 'time':
        this.advance();
        return { kind: 'literal', type: t.kind, value: t.value };
      case 'special':
        this.advance();
        if (t.value === 'this') return { kind: 'this' };
        return t.value === 'index' ? { kind: 'index-var' } : { kind: 'total' };
      case 'word':
        if (t.value === 'true' || t.value === 'false') {
          this.advance();
          return { kind: 'literal', type: 'boolean', value: t.value };
        }
        if (RESERVED_AT_TERM_START.has(t.value)) break;
        return this.parseNameOrCall(null);
      case 'delimited':
        return this.parseNameOrCall(null);
      case 'punct':
        if (t.value === '(') {
          this.advance();
          const inner = this.parseExpression(0);
          this.expectPunct(')');
          return inner;
        }
        if (t.value === '{') {
          this.advance();
          this.expectPunct('}');
          return { kind: 'empty' };
        }
        if (t.value === '%') {
          this.advance();
          const name = this.peek();
          if (name.kind !== 'word' && name.kind !== 'delimited' && name.kind !== 'string') {
            this.fail("a variable name after '%' (e.g. %resource or %`my var`)", name);
          }
          this.advance();
          return { kind: 'variable', name: name.value };
        }
        break;
    }
    return this.fail('an expression', t);
  }

  /** quantity: NUMBER unit?, unit being a calendar keyword or a UCUM string. */
  private parseNumberOrQuantity(num: Token): FhirPathNode {
    const type = num.kind === 'decimal' ? 'decimal' : 'integer';
    const unit = this.peek();
    if (unit.kind === 'string' || (unit.kind === 'word' && CALENDAR_UNITS.has(unit.value))) {
      this.advance();
      return { kind: 'literal', type: 'quantity', value: num.value, unit: unit.value };
    }
    return { kind: 'literal', type, value: num.value };
  }

  /** After '.': identifier (member) | identifier '(' paramList? ')' (function). */
  private parseInvocation(target: FhirPathNode): FhirPathNode {
    const t = this.peek();
    // Any word may follow '.', keywords included: `text.div`, `x.as(Quantity)`, `x.contains('a')`.
    if (t.kind !== 'word' && t.kind !== 'delimited') {
      // `x.$this` is grammatical but has no AST node and no use; reject it with this message.
      return this.fail("a member or function name after '.'", t);
    }
    return this.parseNameOrCall(target);
  }

  private parseNameOrCall(target: FhirPathNode | null): FhirPathNode {
    const name = this.advance().value;
    if (isPunct(this.peek(), '(')) {
      this.advance();
      return { kind: 'invoke', target, name, args: this.parseArguments() };
    }
    return target === null ? { kind: 'identifier', name } : { kind: 'member', target, name };
  }

  /** paramList? ')' — the '(' is already consumed. */
  private parseArguments(): FhirPathNode[] {
    const args: FhirPathNode[] = [];
    if (isPunct(this.peek(), ')')) {
      this.advance();
      return args;
    }
    for (;;) {
      args.push(this.parseExpression(0));
      const t = this.peek();
      if (isPunct(t, ',')) {
        this.advance();
      } else if (isPunct(t, ')')) {
        this.advance();
        return args;
      } else {
        this.fail("')' or ','", t);
      }
    }
  }

  /** typeSpecifier: qualifiedIdentifier, e.g. `Quantity`, `FHIR.Quantity`, `System.String`. */
  private parseTypeSpecifier(op: 'is' | 'as'): string {
    const parts: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'word' && t.kind !== 'delimited') {
        this.fail(`a type name after ${parts.length === 0 ? `'${op}'` : "'.'"}`, t);
      }
      parts.push(this.advance().value);
      const next = this.peekAt(1);
      if (!isPunct(this.peek(), '.') || (next.kind !== 'word' && next.kind !== 'delimited')) {
        return parts.join('.');
      }
      this.advance();
    }
  }

  private expectPunct(value: string): void {
    const t = this.peek();
    if (!isPunct(t, value)) this.fail(`'${value}'`, t);
    this.advance();
  }

  /** The current token; a lexical error becomes a syntax error only once the parser reaches it. */
  private peek(): Token {
    const t = this.peekAt(0);
    if (t.kind === 'error') {
      throw new FhirPathSyntaxError(this.text, t.position, t.expected, describe(t.found));
    }
    return t;
  }

  private peekAt(offset: number): LexResult {
    while (this.buffer.length <= offset) {
      const last = this.buffer[this.buffer.length - 1];
      // Never lex past the end or past an error: both are sticky.
      this.buffer.push(
        last && (last.kind === 'eof' || last.kind === 'error') ? last : this.lexer.next(),
      );
    }
    return this.buffer[offset];
  }

  private advance(): Token {
    const t = this.peek();
    this.buffer.shift();
    return t;
  }

  private fail(expected: string, found: Token): never {
    const what = found.kind === 'eof' ? null : this.text.slice(found.start, found.end);
    throw new FhirPathSyntaxError(this.text, found.start, expected, describe(what));
  }
}

function isPunct(t: LexResult, value: string): boolean {
  return t.kind === 'punct' && t.value === value;
}

function infixOp(t: Token): InfixOp | undefined {
  if (t.kind === 'punct') return SYMBOL_OPS.get(t.value);
  if (t.kind === 'word') return WORD_OPS.get(t.value);
  return undefined;
}

/** Quotes source text for a message; spells out invisible characters such as U+00A0. */
function describe(found: string | null): string {
  if (found === null) return 'end of expression';
  const shown = found.length > 40 ? `${found.slice(0, 40)}...` : found;
  const chars = [...found];
  const cp = chars.length === 1 ? (found.codePointAt(0) ?? 0) : 0x20;
  if (cp < 0x20 || cp > 0x7e) {
    return `'${shown}' (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  return `'${shown}'`;
}
