import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BinaryOp, FhirPathNode, LiteralType } from '../src/fhirpath/ast.js';
import { FhirPathSyntaxError, parseFhirPath } from '../src/fhirpath/parser.js';

const p = parseFhirPath;

// --- AST builders --------------------------------------------------------------------------

const id = (name: string): FhirPathNode => ({ kind: 'identifier', name });
const mem = (target: FhirPathNode, name: string): FhirPathNode => ({
  kind: 'member',
  target,
  name,
});
const call = (
  target: FhirPathNode | null,
  name: string,
  ...args: FhirPathNode[]
): FhirPathNode => ({
  kind: 'invoke',
  target,
  name,
  args,
});
const lit = (type: LiteralType, value: string): FhirPathNode => ({ kind: 'literal', type, value });
const str = (value: string): FhirPathNode => lit('string', value);
const int = (value: string): FhirPathNode => lit('integer', value);
const qty = (value: string, unit: string): FhirPathNode => ({
  kind: 'literal',
  type: 'quantity',
  value,
  unit,
});
const bin = (op: BinaryOp, left: FhirPathNode, right: FhirPathNode): FhirPathNode => ({
  kind: 'binary',
  op,
  left,
  right,
});
const neg = (operand: FhirPathNode): FhirPathNode => ({ kind: 'unary', op: '-', operand });
const typeop = (op: 'is' | 'as', operand: FhirPathNode, typeName: string): FhirPathNode => ({
  kind: 'typeop',
  op,
  operand,
  typeName,
});
const a = id('a');
const b = id('b');
const c = id('c');

function syntaxError(text: string): FhirPathSyntaxError {
  try {
    p(text);
  } catch (e) {
    if (e instanceof FhirPathSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(text)}`);
}

// --- Precedence ------------------------------------------------------------------------------

describe('precedence (tightest first: . [] / unary / * / + / is as / | / < / = / in / and / or / implies)', () => {
  it('member access binds tighter than unary minus', () => {
    expect(p('-a.b')).toEqual(neg(mem(a, 'b')));
    expect(p('-5.abs()')).toEqual(neg(call(int('5'), 'abs')));
    expect(p('(-5).abs()')).toEqual(call(neg(int('5')), 'abs'));
  });

  it('indexer binds tighter than unary minus', () => {
    expect(p('-a[0]')).toEqual(neg({ kind: 'index', target: a, index: int('0') }));
  });

  it('unary binds tighter than multiplicative', () => {
    expect(p('-a * b')).toEqual(bin('*', neg(a), b));
    expect(p('a * -b')).toEqual(bin('*', a, neg(b)));
    expect(p('+a')).toEqual({ kind: 'unary', op: '+', operand: a });
    expect(p('- -a')).toEqual(neg(neg(a)));
    expect(p('--a')).toEqual(neg(neg(a)));
  });

  it('a negative number is unary minus on the literal', () => {
    expect(p('-5')).toEqual(neg(int('5')));
    expect(p('-1.50')).toEqual(neg(lit('decimal', '1.50')));
    expect(p("-4 'mg'")).toEqual(neg(qty('4', 'mg')));
    expect(p('3 - -5')).toEqual(bin('-', int('3'), neg(int('5'))));
  });

  it.each(['*', '/', 'div', 'mod'] as const)('%s is above additive', (op) => {
    expect(p(`a + b ${op} c`)).toEqual(bin('+', a, bin(op, b, c)));
    expect(p(`a ${op} b - c`)).toEqual(bin('-', bin(op, a, b), c));
  });

  it.each(['+', '-', '&'] as const)('%s is above type operators', (op) => {
    expect(p(`a ${op} b is Quantity`)).toEqual(typeop('is', bin(op, a, b), 'Quantity'));
  });

  it('type operators are above union and take a qualified type name', () => {
    expect(p('a | b as FHIR.Quantity')).toEqual(bin('|', a, typeop('as', b, 'FHIR.Quantity')));
    expect(p('a is System.String | b')).toEqual(bin('|', typeop('is', a, 'System.String'), b));
    expect(p('a as B is C')).toEqual(typeop('is', typeop('as', a, 'B'), 'C'));
  });

  it('a type expression can be the left operand of a tighter operator', () => {
    // As in the ANTLR grammar: the type specifier ends the type expression, then parsing goes on.
    expect(p('a is B + 1')).toEqual(bin('+', typeop('is', a, 'B'), int('1')));
    expect(p('(a as Quantity).value')).toEqual(mem(typeop('as', a, 'Quantity'), 'value'));
  });

  it('union is above inequality', () => {
    expect(p('a | b < c')).toEqual(bin('<', bin('|', a, b), c));
    expect(p('a < b | c')).toEqual(bin('<', a, bin('|', b, c)));
  });

  it.each(['<', '>', '<=', '>='] as const)('%s is above equality', (op) => {
    expect(p(`a = b ${op} c`)).toEqual(bin('=', a, bin(op, b, c)));
  });

  it.each(['=', '~', '!=', '!~'] as const)('%s is above membership', (op) => {
    expect(p(`a in b ${op} c`)).toEqual(bin('in', a, bin(op, b, c)));
    expect(p(`a ${op} b contains c`)).toEqual(bin('contains', bin(op, a, b), c));
  });

  it.each(['in', 'contains'] as const)('%s is above and', (op) => {
    expect(p(`a and b ${op} c`)).toEqual(bin('and', a, bin(op, b, c)));
  });

  it.each(['or', 'xor'] as const)('and is above %s', (op) => {
    expect(p(`a ${op} b and c`)).toEqual(bin(op, a, bin('and', b, c)));
    expect(p(`a and b ${op} c`)).toEqual(bin(op, bin('and', a, b), c));
  });

  it.each(['or', 'xor'] as const)('%s is above implies', (op) => {
    expect(p(`a implies b ${op} c`)).toEqual(bin('implies', a, bin(op, b, c)));
    expect(p(`a ${op} b implies c`)).toEqual(bin('implies', bin(op, a, b), c));
  });

  it.each([
    ['*', '/'],
    ['div', 'mod'],
    ['+', '-'],
    ['-', '&'],
    ['|', '|'],
    ['<', '>='],
    ['=', '!~'],
    ['in', 'contains'],
    ['and', 'and'],
    ['or', 'xor'],
    ['implies', 'implies'],
  ] as const)('%s and %s are left-associative', (op1, op2) => {
    expect(p(`a ${op1} b ${op2} c`)).toEqual(bin(op2, bin(op1, a, b), c));
  });

  it('parentheses override precedence and leave no node behind', () => {
    expect(p('a * (b + c)')).toEqual(bin('*', a, bin('+', b, c)));
    expect(p('a - (b - c)')).toEqual(bin('-', a, bin('-', b, c)));
    expect(p('((a))')).toEqual(a);
  });

  it('handles a realistic mix', () => {
    expect(p("gender = 'male' and birthDate < @2000-01-01 or deceased.exists().not()")).toEqual(
      bin(
        'or',
        bin(
          'and',
          bin('=', id('gender'), str('male')),
          bin('<', id('birthDate'), lit('date', '2000-01-01')),
        ),
        call(call(id('deceased'), 'exists'), 'not'),
      ),
    );
  });
});

// --- Literals --------------------------------------------------------------------------------

describe('literals', () => {
  it('empty and booleans', () => {
    expect(p('{}')).toEqual({ kind: 'empty' });
    expect(p('{ /* nothing */ }')).toEqual({ kind: 'empty' });
    expect(p('true')).toEqual(lit('boolean', 'true'));
    expect(p('false')).toEqual(lit('boolean', 'false'));
  });

  it('strings with every escape', () => {
    expect(p("'abc'")).toEqual(str('abc'));
    expect(p("''")).toEqual(str(''));
    expect(p(String.raw`'\' \" \` \\ \/ \f \n \r \t \u00e9\u20AC'`)).toEqual(
      str('\' " ` \\ / \f \n \r \t é€'),
    );
    expect(p("'line one\nline two'")).toEqual(str('line one\nline two'));
    expect(p("'a // not a comment'")).toEqual(str('a // not a comment'));
  });

  it('numbers keep their text', () => {
    expect(p('123')).toEqual(int('123'));
    expect(p('007')).toEqual(int('007'));
    expect(p('123L')).toEqual(lit('long', '123'));
    expect(p('1.0')).toEqual(lit('decimal', '1.0'));
    expect(p('1.00')).toEqual(lit('decimal', '1.00'));
    expect(p('0.000100')).toEqual(lit('decimal', '0.000100'));
  });

  it('a dot after an integer is an invocation, not a decimal point', () => {
    expect(p('1.toString()')).toEqual(call(int('1'), 'toString'));
    expect(p('1.5.round()')).toEqual(call(lit('decimal', '1.5'), 'round'));
  });

  it.each([
    ['@2014', 'date', '2014'],
    ['@2014-01', 'date', '2014-01'],
    ['@2014-01-25', 'date', '2014-01-25'],
    ['@2014T', 'dateTime', '2014T'],
    ['@2014-01T', 'dateTime', '2014-01T'],
    ['@2014-01-25T', 'dateTime', '2014-01-25T'],
    ['@2014-01-25T14', 'dateTime', '2014-01-25T14'],
    ['@2014-01-25T14:30', 'dateTime', '2014-01-25T14:30'],
    ['@2014-01-25T14:30Z', 'dateTime', '2014-01-25T14:30Z'],
    ['@2014-01-25T14:30:14.559', 'dateTime', '2014-01-25T14:30:14.559'],
    ['@2014-01-25T14:30:14+10:00', 'dateTime', '2014-01-25T14:30:14+10:00'],
    ['@2014-01-25T14:30:14.559-05:00', 'dateTime', '2014-01-25T14:30:14.559-05:00'],
    ['@T12', 'time', '12'],
    ['@T12:00', 'time', '12:00'],
    ['@T14:30:14.559', 'time', '14:30:14.559'],
  ] as const)('%s is a %s with value %s', (text, type, value) => {
    expect(p(text)).toEqual(lit(type, value));
  });

  it('date arithmetic is not swallowed by the literal', () => {
    expect(p('@2014-01-25 - 1 day')).toEqual(bin('-', lit('date', '2014-01-25'), qty('1', 'day')));
    // Longest match, as in ANTLR: `-1` is not a month.
    expect(p('@2014-1')).toEqual(bin('-', lit('date', '2014'), int('1')));
    expect(p('@2014-01-25T10:00.hour()')).toEqual(
      call(lit('dateTime', '2014-01-25T10:00'), 'hour'),
    );
  });

  it('quantities with UCUM units and calendar words', () => {
    expect(p("4.5 'mg'")).toEqual(qty('4.5', 'mg'));
    expect(p("10 'mm[Hg]'")).toEqual(qty('10', 'mm[Hg]'));
    expect(p("1.0 'kg/m2'")).toEqual(qty('1.0', 'kg/m2'));
    for (const w of [
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
    ]) {
      expect(p(`3 ${w}`)).toEqual(qty('3', w));
    }
    expect(p("age > 18 years and weight < 100 'kg'")).toEqual(
      bin('and', bin('>', id('age'), qty('18', 'years')), bin('<', id('weight'), qty('100', 'kg'))),
    );
  });

  it('calendar words are still identifiers elsewhere', () => {
    expect(p('day')).toEqual(id('day'));
    expect(p('x.days')).toEqual(mem(id('x'), 'days'));
  });
});

// --- Names, invocations, variables -----------------------------------------------------------

describe('identifiers, invocations and variables', () => {
  it('paths, members, functions and indexers', () => {
    expect(p('name')).toEqual(id('name'));
    expect(p('Patient.name.given')).toEqual(mem(mem(id('Patient'), 'name'), 'given'));
    expect(p('exists()')).toEqual(call(null, 'exists'));
    expect(p('name.exists()')).toEqual(call(id('name'), 'exists'));
    expect(p("iif(a, 'x', 'y')")).toEqual(call(null, 'iif', a, str('x'), str('y')));
    expect(p('name[0]')).toEqual({ kind: 'index', target: id('name'), index: int('0') });
    expect(p('name[0].given[1 + 1]')).toEqual({
      kind: 'index',
      target: mem({ kind: 'index', target: id('name'), index: int('0') }, 'given'),
      index: bin('+', int('1'), int('1')),
    });
    expect(p('_id.value_x')).toEqual(mem(id('_id'), 'value_x'));
  });

  it('chained invocations', () => {
    expect(p("name.where(use = 'official').given.first()")).toEqual(
      call(mem(call(id('name'), 'where', bin('=', id('use'), str('official'))), 'given'), 'first'),
    );
    expect(p("extension('http://x').value.ofType(Coding).code")).toEqual(
      mem(
        call(mem(call(null, 'extension', str('http://x')), 'value'), 'ofType', id('Coding')),
        'code',
      ),
    );
    expect(p("(gender = 'male').not()")).toEqual(call(bin('=', id('gender'), str('male')), 'not'));
    const range = (end: string): FhirPathNode =>
      mem(mem(call(id('value'), 'ofType', id('Range')), end), 'value');
    expect(p('value.ofType(Range).high.value - value.ofType(Range).low.value')).toEqual(
      bin('-', range('high'), range('low')),
    );
    expect(p('getResourceKey() = link.other.getReferenceKey(Patient)')).toEqual(
      bin(
        '=',
        call(null, 'getResourceKey'),
        call(mem(id('link'), 'other'), 'getReferenceKey', id('Patient')),
      ),
    );
  });

  it('type-name arguments are parsed as paths', () => {
    expect(p('value.ofType(FHIR.Quantity)')).toEqual(
      call(id('value'), 'ofType', mem(id('FHIR'), 'Quantity')),
    );
  });

  it('keywords as function and member names', () => {
    expect(p('x.as(Quantity)')).toEqual(call(id('x'), 'as', id('Quantity')));
    expect(p('x.is(System.String)')).toEqual(call(id('x'), 'is', mem(id('System'), 'String')));
    expect(p("x.contains('a')")).toEqual(call(id('x'), 'contains', str('a')));
    expect(p('x.in(y)')).toEqual(call(id('x'), 'in', id('y')));
    expect(p('x.div(2)')).toEqual(call(id('x'), 'div', int('2')));
    expect(p('x.mod(2)')).toEqual(call(id('x'), 'mod', int('2')));
    expect(p('text.div')).toEqual(mem(id('text'), 'div'));
    expect(p('x.and.or.true.implies')).toEqual(
      mem(mem(mem(mem(id('x'), 'and'), 'or'), 'true'), 'implies'),
    );
    expect(p('as(Quantity)')).toEqual(call(null, 'as', id('Quantity')));
    expect(p('is(Quantity)')).toEqual(call(null, 'is', id('Quantity')));
    expect(p("text.where(div.contains('x'))")).toEqual(
      call(id('text'), 'where', call(id('div'), 'contains', str('x'))),
    );
    expect(p('contains contains in')).toEqual(bin('contains', id('contains'), id('in')));
  });

  it('delimited identifiers', () => {
    expect(p('`given`')).toEqual(id('given'));
    expect(p('`div`')).toEqual(id('div'));
    expect(p('name.`given`')).toEqual(mem(id('name'), 'given'));
    expect(p('`first`()')).toEqual(call(null, 'first'));
    expect(p('x.`where`(true)')).toEqual(call(id('x'), 'where', lit('boolean', 'true')));
    expect(p('`and` and `or`')).toEqual(bin('and', id('and'), id('or')));
    expect(p('`with space`.`back\\`tick`')).toEqual(mem(id('with space'), 'back`tick'));
    expect(p('`a\\u0041`')).toEqual(id('aA'));
    expect(p('a is `FHIR`.`Quantity`')).toEqual(typeop('is', a, 'FHIR.Quantity'));
  });

  it('variables', () => {
    expect(p('%rowIndex')).toEqual({ kind: 'variable', name: 'rowIndex' });
    expect(p('%resource.id')).toEqual(mem({ kind: 'variable', name: 'resource' }, 'id'));
    expect(p('%`name with spaces`')).toEqual({ kind: 'variable', name: 'name with spaces' });
    expect(p("%'vs-name'")).toEqual({ kind: 'variable', name: 'vs-name' });
    expect(p('%in')).toEqual({ kind: 'variable', name: 'in' });
  });

  it('$this, $index, $total', () => {
    expect(p('$this')).toEqual({ kind: 'this' });
    expect(p('$index')).toEqual({ kind: 'index-var' });
    expect(p('$total')).toEqual({ kind: 'total' });
    expect(p('where($this > 1 and $index < 3)')).toEqual(
      call(
        null,
        'where',
        bin('and', bin('>', { kind: 'this' }, int('1')), bin('<', { kind: 'index-var' }, int('3'))),
      ),
    );
    expect(p('aggregate($total + $this, 0)')).toEqual(
      call(null, 'aggregate', bin('+', { kind: 'total' }, { kind: 'this' }), int('0')),
    );
    expect(p('$this.given')).toEqual(mem({ kind: 'this' }, 'given'));
  });
});

// --- Trivia ----------------------------------------------------------------------------------

describe('whitespace and comments', () => {
  it('skips whitespace and both comment forms', () => {
    expect(p('  a\n\t.\r\n b  ')).toEqual(mem(a, 'b'));
    expect(p('a // trailing comment')).toEqual(a);
    expect(p('a // comment\n + b')).toEqual(bin('+', a, b));
    expect(p('a /* inline */ + /* multi\nline */ b')).toEqual(bin('+', a, b));
    expect(p('a//b')).toEqual(a);
    expect(p('a / b')).toEqual(bin('/', a, b));
    expect(p('/* only a comment before */ a')).toEqual(a);
  });
});

// --- Errors ----------------------------------------------------------------------------------

describe('syntax errors', () => {
  it.each([
    ['name name', 5, 'an operator or end of expression', "'name'"],
    ['name.', 5, "a member or function name after '.'", 'end of expression'],
    ['(a', 2, "')'", 'end of expression'],
    ['a ==', 3, 'an expression', "'='"],
    ["'unterminated", 0, "a closing ' for the string", 'end of expression'],
    ['`unterminated', 0, 'a closing ` for the delimited identifier', 'end of expression'],
    ['a /* open', 2, "'*/' to close the comment", 'end of expression'],
    ['@@', 0, "a date, dateTime or time after '@'", "'@@'"],
    ['@T', 0, "a date, dateTime or time after '@'", "'@T'"],
    ['@201', 0, "a date, dateTime or time after '@'", "'@201'"],
    ['', 0, 'an expression', 'end of expression'],
    ['a +', 3, 'an expression', 'end of expression'],
    ['a)', 1, 'an operator or end of expression', "')'"],
    ['f(a,)', 4, 'an expression', "')'"],
    ['f(a b)', 4, "')' or ','", "'b'"],
    ['a[0', 3, "']'", 'end of expression'],
    ['{1}', 1, "'}'", "'1'"],
    ['a is', 4, "a type name after 'is'", 'end of expression'],
    ['a as 5', 5, "a type name after 'as'", "'5'"],
    ['%', 1, "a variable name after '%'", 'end of expression'],
    ['$foo', 0, '$this, $index or $total', "'$foo'"],
    ['x.$this', 2, "a member or function name after '.'", "'$this'"],
    ['a ! b', 2, "'!=' or '!~'", "'!'"],
    ['a # b', 2, 'a FHIRPath token', "'#'"],
    ['"double"', 0, 'single quotes', `'"'`],
    ["'\\d+'", 1, 'an escape sequence', "'\\d'"],
    ["'\\u12'", 1, 'an escape sequence', "'\\u12''"],
    ['a and and b', 6, 'an expression', "'and'"],
    ['or', 0, 'an expression', "'or'"],
    ['5 abc', 2, 'an operator or end of expression', "'abc'"],
    ["5L 'mg'", 3, 'an operator or end of expression', "''mg''"],
    ['@T12:00Z', 7, 'an operator or end of expression', "'Z'"],
    ['a\u00a0b', 1, 'a FHIRPath token', "'\u00a0' (U+00A0)"],
  ])('%j fails at %i', (text, position, expected, found) => {
    const e = syntaxError(text);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('FHIRPATH_SYNTAX');
    expect(e.name).toBe('FhirPathSyntaxError');
    expect(e.expression).toBe(text);
    expect(e.position).toBe(position);
    expect(e.expected).toContain(expected);
    expect(e.found).toBe(found);
    expect(e.message).toContain(`at position ${position} in ${JSON.stringify(text)}`);
  });

  it('says what was expected, where, and what was found', () => {
    expect(() => p("name.where(use = 'x'")).toThrow(
      `Expected ')' or ',' at position 20 in "name.where(use = 'x'" but found end of expression`,
    );
    expect(() => p('a ==')).toThrow(`Expected an expression at position 3 in "a ==" but found '='`);
  });

  it('reports the leftmost error', () => {
    expect(syntaxError("a b 'open").position).toBe(2);
    expect(syntaxError("a.(b 'open").position).toBe(2);
  });

  it('turns absurd nesting into a syntax error, not a stack overflow', () => {
    const deep = 5000;
    expect(syntaxError('('.repeat(deep) + 'a' + ')'.repeat(deep)).expected).toContain('nesting');
    expect(syntaxError('-'.repeat(deep) + '1').expected).toContain('nesting');
    expect(syntaxError('f('.repeat(deep) + ')'.repeat(deep)).expected).toContain('nesting');
    // Reasonable depth still parses; long flat chains are iterative and unlimited.
    expect(p('('.repeat(100) + 'a' + ')'.repeat(100))).toEqual(a);
    expect(() => p(Array.from({ length: 20000 }, () => 'a').join('.'))).not.toThrow();
    expect(() => p(Array.from({ length: 20000 }, () => 'a').join(' + '))).not.toThrow();
  });
});

// --- Property-based ----------------------------------------------------------------------------

const CALENDAR = [
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
];
const BINARY_OPS: readonly BinaryOp[] = [
  '*',
  '/',
  'div',
  'mod',
  '+',
  '-',
  '&',
  '|',
  '<',
  '>',
  '<=',
  '>=',
  '=',
  '~',
  '!=',
  '!~',
  'in',
  'contains',
  'and',
  'or',
  'xor',
  'implies',
];
const PRECEDENCE: Record<BinaryOp, number> = {
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
  '+': 9,
  '-': 9,
  '&': 9,
  '*': 10,
  '/': 10,
  div: 10,
  mod: 10,
};
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '`': '\\`',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\f': '\\f',
};
const quote = (s: string, q: "'" | '`'): string =>
  q + s.replace(/[\\'`\n\r\t\f]/g, (ch) => ESCAPES[ch] ?? ch) + q;
const delimited = (name: string): string => quote(name, '`');

function printLiteral(node: Extract<FhirPathNode, { kind: 'literal' }>): string {
  switch (node.type) {
    case 'string':
      return quote(node.value, "'");
    case 'long':
      return `${node.value}L`;
    case 'date':
    case 'dateTime':
      return `@${node.value}`;
    case 'time':
      return `@T${node.value}`;
    case 'quantity': {
      const unit = node.unit ?? '';
      return `${node.value} ${CALENDAR.includes(unit) ? unit : quote(unit, "'")}`;
    }
    default:
      return node.value;
  }
}

/** Prints with every subexpression parenthesized and every name delimited. */
function printFull(node: FhirPathNode): string {
  const wrap = (n: FhirPathNode): string => `(${printFull(n)})`;
  switch (node.kind) {
    case 'empty':
      return '{}';
    case 'literal':
      return printLiteral(node);
    case 'identifier':
      return delimited(node.name);
    case 'member':
      return `${wrap(node.target)}.${delimited(node.name)}`;
    case 'invoke': {
      const head = node.target === null ? '' : `${wrap(node.target)}.`;
      return `${head}${delimited(node.name)}(${node.args.map(printFull).join(', ')})`;
    }
    case 'index':
      return `${wrap(node.target)}[${printFull(node.index)}]`;
    case 'binary':
      return `${wrap(node.left)} ${node.op} ${wrap(node.right)}`;
    case 'unary':
      return `${node.op}${wrap(node.operand)}`;
    case 'typeop':
      return `${wrap(node.operand)} ${node.op} ${node.typeName.split('.').map(delimited).join('.')}`;
    case 'variable':
      return `%${delimited(node.name)}`;
    case 'this':
      return '$this';
    case 'index-var':
      return '$index';
    case 'total':
      return '$total';
  }
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NOT_A_TERM = new Set(['true', 'false', 'and', 'or', 'xor', 'implies']);
const precedenceOf = (n: FhirPathNode): number =>
  n.kind === 'binary' ? PRECEDENCE[n.op] : n.kind === 'typeop' ? 8 : n.kind === 'unary' ? 11 : 12;

/**
 * Prints with only the parentheses precedence requires and plain names where legal, so that
 * parsing the output checks precedence, associativity and keyword-as-name handling.
 */
function printMinimal(node: FhirPathNode): string {
  const at = (n: FhirPathNode, min: number): string =>
    precedenceOf(n) >= min ? printMinimal(n) : `(${printMinimal(n)})`;
  const name = (s: string): string => (PLAIN.test(s) ? s : delimited(s));
  const termName = (s: string): string => (NOT_A_TERM.has(s) ? delimited(s) : name(s));
  switch (node.kind) {
    case 'identifier':
      return termName(node.name);
    case 'member':
      return `${at(node.target, 12)}.${name(node.name)}`;
    case 'invoke': {
      const head =
        node.target === null ? termName(node.name) : `${at(node.target, 12)}.${name(node.name)}`;
      return `${head}(${node.args.map(printMinimal).join(',')})`;
    }
    case 'index':
      return `${at(node.target, 12)}[${printMinimal(node.index)}]`;
    case 'binary': {
      const prec = PRECEDENCE[node.op];
      return `${at(node.left, prec)} ${node.op} ${at(node.right, prec + 1)}`;
    }
    case 'unary':
      return `${node.op}${at(node.operand, 11)}`;
    case 'typeop':
      return `${at(node.operand, 8)} ${node.op} ${node.typeName.split('.').map(name).join('.')}`;
    case 'variable':
      return PLAIN.test(node.name) ? `%${node.name}` : `%${quote(node.name, "'")}`;
    default:
      return printFull(node);
  }
}

const anyName = fc.string({ unit: 'binary', maxLength: 6 });
const someName = fc.oneof(
  fc.constantFrom('name', 'given', 'div', 'as', 'is', 'in', 'contains', 'true', 'and', 'days'),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,5}$/),
  anyName,
);
const typeName = fc
  .array(fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,5}$/), fc.string({ minLength: 1 })), {
    minLength: 1,
    maxLength: 3,
  })
  .filter((parts) => parts.every((s) => s.length > 0 && !s.includes('.')))
  .map((parts) => parts.join('.'));
const digits = fc.stringMatching(/^[0-9]{1,5}$/);
const decimal = fc.stringMatching(/^[0-9]{1,3}\.[0-9]{1,4}$/);
const time = '[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?)?';
const date = '[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?';

const literal: fc.Arbitrary<FhirPathNode> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }).map(str),
  fc.constantFrom('true', 'false').map((v) => lit('boolean', v)),
  digits.map(int),
  digits.map((v) => lit('long', v)),
  decimal.map((v) => lit('decimal', v)),
  fc.stringMatching(new RegExp(`^${date}$`)).map((v) => lit('date', v)),
  fc
    .stringMatching(new RegExp(`^${date}T(${time}(Z|[+-][0-9]{2}:[0-9]{2})?)?$`))
    .map((v) => lit('dateTime', v)),
  fc.stringMatching(new RegExp(`^${time}$`)).map((v) => lit('time', v)),
  fc
    .tuple(fc.oneof(digits, decimal), fc.oneof(fc.constantFrom(...CALENDAR), fc.string()))
    .map(([v, unit]) => qty(v, unit)),
);
const leaf: fc.Arbitrary<FhirPathNode> = fc.oneof(
  literal,
  someName.map(id),
  someName.map((name): FhirPathNode => ({ kind: 'variable', name })),
  fc.constantFrom<FhirPathNode>(
    { kind: 'empty' },
    { kind: 'this' },
    { kind: 'index-var' },
    { kind: 'total' },
  ),
);

const byDepth = new Map<number, fc.Arbitrary<FhirPathNode>>();
function expression(depth: number): fc.Arbitrary<FhirPathNode> {
  if (depth === 0) return leaf;
  const cached = byDepth.get(depth);
  if (cached) return cached;
  const sub = expression(depth - 1);
  const arb: fc.Arbitrary<FhirPathNode> = fc.oneof(
    leaf,
    fc.tuple(fc.constantFrom(...BINARY_OPS), sub, sub).map(([op, l, r]) => bin(op, l, r)),
    fc
      .tuple(fc.constantFrom('-' as const, '+' as const), sub)
      .map(([op, operand]): FhirPathNode => ({ kind: 'unary', op, operand })),
    fc.tuple(sub, someName).map(([target, name]) => mem(target, name)),
    fc
      .tuple(fc.option(sub, { nil: null }), someName, fc.array(sub, { maxLength: 3 }))
      .map(([target, name, args]) => call(target, name, ...args)),
    fc.tuple(sub, sub).map(([target, index]): FhirPathNode => ({ kind: 'index', target, index })),
    fc
      .tuple(fc.constantFrom('is' as const, 'as' as const), sub, typeName)
      .map(([op, operand, t]) => typeop(op, operand, t)),
  );
  byDepth.set(depth, arb);
  return arb;
}

const TOKEN_SOUP = [
  'a',
  'name',
  '.',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  "'x'",
  "'",
  '`',
  '`b`',
  '\\',
  '@',
  '@2014',
  '-01',
  'T',
  ':30',
  'Z',
  '@T12',
  '-',
  '+',
  '*',
  '/',
  '//',
  '/*',
  '*/',
  '\n',
  ' ',
  '1',
  '1.5',
  'L',
  'is',
  'as',
  'div',
  'and',
  'implies',
  'days',
  "'mg'",
  '%',
  '$this',
  '$',
  '=',
  '!',
  '!=',
  '<=',
  '|',
  '&',
  '~',
  '"',
  '#',
];

function parsesOrThrowsSyntaxError(text: string): void {
  try {
    p(text);
  } catch (e) {
    expect(e).toBeInstanceOf(FhirPathSyntaxError);
    const err = e as FhirPathSyntaxError;
    expect(err.position).toBeGreaterThanOrEqual(0);
    expect(err.position).toBeLessThanOrEqual(text.length);
  }
}

describe('property-based', () => {
  it('random text only ever throws FhirPathSyntaxError', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), parsesOrThrowsSyntaxError), {
      numRuns: 2000,
    });
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...TOKEN_SOUP), { maxLength: 25 }).map((t) => t.join('')),
        parsesOrThrowsSyntaxError,
      ),
      { numRuns: 5000 },
    );
  });

  it('fully parenthesized printing round-trips', () => {
    fc.assert(
      fc.property(expression(4), (ast) => {
        const once = p(printFull(ast));
        expect(once).toEqual(ast);
        expect(p(printFull(once))).toEqual(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('minimally parenthesized printing round-trips (checks precedence and associativity)', () => {
    fc.assert(
      fc.property(expression(4), (ast) => {
        expect(p(printMinimal(ast))).toEqual(ast);
      }),
      { numRuns: 2000 },
    );
  });
});
