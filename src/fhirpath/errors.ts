/** Raised when a FHIRPath expression is valid syntax but cannot be compiled to SQL. */
export class FhirPathCompileError extends Error {
  readonly code = 'FHIRPATH_COMPILE';
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(`${message} (in "${expression}")`);
    this.name = 'FhirPathCompileError';
  }
}
