import { parseArgs } from 'node:util';
import { UsageError } from './usage.ts';
import { withServices } from './with-services.ts';
import { createCredentialEventsRepo } from '../shared/credential-events.repo.ts';
import { BY_CLI } from '../features/audit/audit.ts';

/** The password given on standard input (`--password-stdin`), without its final line break. */
export async function readStdin(): Promise<string> {
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
    const account = await accounts.signUp(
      {
        email,
        password,
        name: values.name,
        isAdmin: values.admin ?? false,
      },
      BY_CLI,
    );
    return { id: account.id, email: account.email, is_admin: account.isAdmin };
  });
}

/**
 * `latchkey users disable|enable|reset-2fa <email>`: the console's actions, for an operator at the
 * server (the audit trail names the CLI as actor). Running servers are told through the database,
 * as they tell each other, so their caches forget the account within about a second.
 */
export function adminAction(action: 'disable' | 'enable' | 'reset-2fa') {
  return async (args: string[]): Promise<unknown> => {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    const [email, ...rest] = positionals;
    if (!email || rest.length) throw new UsageError(`users ${action} needs one email address`);
    return withServices(async ({ userAdmin }, db) => {
      const id = await userAdmin.idOfEmail(email);
      const user =
        action === 'disable'
          ? await userAdmin.disable('cli', id, BY_CLI)
          : action === 'enable'
            ? await userAdmin.enable('cli', id, BY_CLI)
            : await userAdmin.resetTwoFactor('cli', id, BY_CLI);
      const now = Date.now();
      await createCredentialEventsRepo(db).append([
        { origin: 'cli', kind: 'account', subject: id, created_at: now },
        { origin: 'cli', kind: 'tokens', subject: null, created_at: now },
      ]);
      return user;
    });
  };
}
