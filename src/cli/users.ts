import { parseArgs } from 'node:util';
import { UsageError } from './usage.ts';
import { withServices } from './with-services.ts';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin expects the password on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `latchkey users create`: an account, its password read from standard input. */
export async function createUser(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      admin: { type: 'boolean' },
      name: { type: 'string' },
    },
  });
  const email = values.email;
  if (!email) throw new UsageError('users create needs --email');
  if (!values['password-stdin'])
    throw new UsageError('users create needs --password-stdin (the password is never an argument)');
  const password = await readStdin();
  return withServices(async ({ accounts }) => {
    const account = await accounts.signUp({
      email,
      password,
      name: values.name,
      isAdmin: values.admin ?? false,
    });
    return { id: account.id, email: account.email, is_admin: account.isAdmin };
  });
}
