import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { ValidationError } from '../../domain/errors.ts';
import { passwordLengthSchema } from '../../wire/accounts.ts';

/**
 * zxcvbn's score 3 ("safely unguessable": about 10^8 guesses or more) is the least a password must
 * reach. It is the threshold zxcvbn's authors and most services use: it refuses every common
 * password, keyboard walk, date and name-plus-digits, yet accepts a passphrase of three ordinary
 * words, where score 4 (10^10) would send people to password generators or sticky notes. With
 * argon2id at rest, 10^8 guesses cost an offline attacker days per account, and the sign-in
 * throttle makes them impossible online.
 */
export const MIN_PASSWORD_SCORE = 3;

/**
 * zxcvbn's English warnings, where they read oddly after "Choose a stronger password:" (the others
 * are kept, their first letter lowered).
 */
const PLAIN_WARNINGS = {
  topTen: 'It is one of the most common passwords.',
  topHundred: 'It is one of the most common passwords.',
  common: 'It is a commonly used password.',
  similarToCommon: 'It is too close to a commonly used password.',
  userInputs: 'It contains your email address or name.',
};

/** Who the password is for: their email and name must not make it guessable. */
export interface PasswordOwner {
  email: string;
  name?: string | null;
}

/**
 * The one rule a new password meets, wherever it is chosen (sign-up, the API and the CLI, the
 * change form, a reset): 10 to 256 characters, and not guessable (zxcvbn with its common and
 * English dictionaries, and the person's own email and name as words it knows). `check` throws a
 * ValidationError naming the field, in words a person can act on; it returns the password.
 *
 * zxcvbn's dictionaries are a few MB of JavaScript: they load on the first check, once, so a
 * process that never sees a new password (most CLI commands, a server between sign-ups) never
 * pays for them.
 */
export function createPasswordPolicy(options: { minScore?: number } = {}) {
  const minScore = options.minScore ?? MIN_PASSWORD_SCORE;
  let estimator: Promise<ZxcvbnFactory> | undefined;

  const load = async (): Promise<ZxcvbnFactory> => {
    const [core, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new core.ZxcvbnFactory({
      translations: { ...en.translations, warnings: { ...en.translations.warnings, ...PLAIN_WARNINGS } },
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
    });
  };

  return {
    async check(password: string, owner: PasswordOwner, field = 'password'): Promise<string> {
      const label = labelOf(field);
      const length = passwordLengthSchema(label).safeParse(password);
      if (!length.success) throw new ValidationError(length.error.issues[0]!.message, field);
      estimator ??= load().catch((err) => {
        estimator = undefined; // a failed load is tried again on the next check
        throw err;
      });
      const result = (await estimator).check(password, ownWords(owner));
      if (result.score >= minScore) return password;
      throw new ValidationError(refusal(label, result), field);
    },
  };
}
export type PasswordPolicy = ReturnType<typeof createPasswordPolicy>;

/** `new_password` -> "New password": the label the form shows. */
const labelOf = (field: string) => {
  const words = field.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/**
 * The person's email, its parts and their name, as words zxcvbn counts as known to an attacker:
 * each word alone, and run together ("gracehopper"), so a name plus a year is as weak as a word
 * plus a year.
 */
function ownWords(owner: PasswordOwner): string[] {
  const email = owner.email.trim().toLowerCase();
  const [local = '', domain = ''] = email.split('@');
  const localWords = local.split(/[._+-]+/);
  const nameWords = (owner.name ?? '')
    .trim()
    .toLowerCase()
    .split(/[\s._-]+/);
  const words = [email, local, domain, domain.split('.')[0] ?? '', ...localWords, ...nameWords];
  words.push(localWords.join(''), nameWords.join(''), nameWords.join(' '));
  return [...new Set(words)].filter((w) => w.length >= 3);
}

type Estimate = ReturnType<ZxcvbnFactory['check']>;

/** Why a password was refused and what to do instead, from zxcvbn's own feedback. */
function refusal(label: string, result: Estimate): string {
  const lower = label.charAt(0).toLowerCase() + label.slice(1);
  // Said whenever the email or name is part of it, even when zxcvbn's one warning is about another part.
  const own = result.sequence.some((m) => m.pattern === 'dictionary' && m.dictionaryName === 'userInputs');
  const warning = own ? PLAIN_WARNINGS.userInputs : result.feedback.warning;
  const why = warning ? asClause(warning) : 'it would be easy to guess';
  const advice = result.feedback.suggestions.length
    ? result.feedback.suggestions.join(' ')
    : 'A few uncommon words together make a strong one.';
  return `Choose a stronger ${lower}: ${why}. ${advice}`;
}

/** zxcvbn's warnings are sentences ("Dates are easy to guess."): a clause after a colon here. */
const asClause = (warning: string) => {
  const clause = warning.replace(/\.$/, '');
  return clause.charAt(0).toLowerCase() + clause.slice(1);
};
