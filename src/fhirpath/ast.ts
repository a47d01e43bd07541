/**
 * FHIRPath abstract syntax tree (FHIRPath N1, http://hl7.org/fhirpath/N1/).
 * Literals keep their source text so that decimal precision (1.0 vs 1.00) and
 * partial dates survive until the compiler decides how to use them.
 */
export type LiteralType =
  'string' | 'boolean' | 'integer' | 'long' | 'decimal' | 'date' | 'dateTime' | 'time' | 'quantity';

export type FhirPathNode =
  /** `{}`: the empty collection. */
  | { readonly kind: 'empty' }
  /**
   * A literal. `value` is the literal's text without delimiters: strings are
   * unescaped, dates/times lose the leading `@` (and `T` for time), decimals keep
   * their digits as written. Quantities carry `unit` (UCUM text or a calendar word).
   */
  | {
      readonly kind: 'literal';
      readonly type: LiteralType;
      readonly value: string;
      readonly unit?: string;
    }
  /** A bare identifier at the start of a path: a member of the focus (`name` in `name.given`). */
  | { readonly kind: 'identifier'; readonly name: string }
  /** `target.name` where name is not followed by `(`. */
  | { readonly kind: 'member'; readonly target: FhirPathNode; readonly name: string }
  /** `target.fn(args)`, or `fn(args)` on the focus when target is null. */
  | {
      readonly kind: 'invoke';
      readonly target: FhirPathNode | null;
      readonly name: string;
      readonly args: readonly FhirPathNode[];
    }
  /** `target[index]`. */
  | { readonly kind: 'index'; readonly target: FhirPathNode; readonly index: FhirPathNode }
  /** Binary operators, spelled as in the grammar: `*`, `/`, `div`, `mod`, `+`, `-`, `&`, `|`,
   *  `<`, `>`, `<=`, `>=`, `=`, `~`, `!=`, `!~`, `in`, `contains`, `and`, `or`, `xor`, `implies`. */
  | {
      readonly kind: 'binary';
      readonly op: BinaryOp;
      readonly left: FhirPathNode;
      readonly right: FhirPathNode;
    }
  /** Unary `-` or `+` (polarity). */
  | { readonly kind: 'unary'; readonly op: '-' | '+'; readonly operand: FhirPathNode }
  /** `is` / `as` operators with a (possibly qualified) type name such as `FHIR.Quantity`. */
  | {
      readonly kind: 'typeop';
      readonly op: 'is' | 'as';
      readonly operand: FhirPathNode;
      readonly typeName: string;
    }
  /** `%name` or `` %`name` `` (environment variable / view constant / %rowIndex). */
  | { readonly kind: 'variable'; readonly name: string }
  /** `$this`, `$index`, `$total`. */
  | { readonly kind: 'this' }
  | { readonly kind: 'index-var' }
  | { readonly kind: 'total' };

export type BinaryOp =
  | '*'
  | '/'
  | 'div'
  | 'mod'
  | '+'
  | '-'
  | '&'
  | '|'
  | '<'
  | '>'
  | '<='
  | '>='
  | '='
  | '~'
  | '!='
  | '!~'
  | 'in'
  | 'contains'
  | 'and'
  | 'or'
  | 'xor'
  | 'implies';
