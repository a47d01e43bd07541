/** Runs the CLI from source (`npx tsx src/cli/entry.ts ...`); the installed bin uses the build. */
import { main } from './main.js';

// A reader that stops early (`medlake sql ... | head`) closes the pipe: that ends the
// output, it is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
process.exitCode = await main(process.argv);
