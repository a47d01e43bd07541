#!/usr/bin/env node
// The installed binary runs the compiled CLI (built by `npm ci` through the prepare script).
import { main } from '../dist/src/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
