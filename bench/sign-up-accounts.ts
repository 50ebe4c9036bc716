/**
 * Signs up one account per email given, all with the password read from standard input, in one
 * process: what `latchkey users create` does for each (the same service, the CLI as the actor),
 * without starting a CLI per account (about a second each, most of it loading the password
 * checker's dictionaries). The login row's accounts come from here. Prints {created, seconds}.
 *
 *   node --import tsx bench/sign-up-accounts.ts EMAIL... < password
 */
import { parseArgs } from 'node:util';
import { readStdin } from '../src/cli/users.ts';
import { withServices } from '../src/cli/with-services.ts';
import { BY_CLI } from '../src/features/audit/audit.ts';

/** Sign-ups in flight at once: argon2 hashes on libuv's threads, four by default. */
const CONCURRENCY = 4;

const { positionals: emails } = parseArgs({ allowPositionals: true, options: {} });
const password = await readStdin();

const started = process.hrtime.bigint();
await withServices(async ({ accounts }) => {
  for (let i = 0; i < emails.length; i += CONCURRENCY)
    await Promise.all(emails.slice(i, i + CONCURRENCY).map((email) => accounts.signUp({ email, password }, BY_CLI)));
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(`${JSON.stringify({ created: emails.length, seconds: Math.round(seconds * 10) / 10 })}\n`);
