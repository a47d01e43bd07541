/** Process exit codes of the `medlake` command (documented in docs/cli.md). */
export const ExitCode = {
  /** Everything asked for was done. */
  Ok: 0,
  /** An error: nothing was changed (for ingest: the lake stays at its previous commit). */
  Error: 1,
  /** Bad arguments or an unreadable input file named on the command line. */
  Usage: 2,
  /** Ingest committed, but some records were quarantined (see `lake info`). */
  Partial: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
