/** Runs the CLI from source (`npx tsx src/cli/entry.ts ...`); the installed bin uses the build. */
import { main } from './main.js';

process.exitCode = await main(process.argv);
