import * as OTPAuth from 'otpauth';
import { Conflict, ValidationError } from '../../domain/errors.ts';
import type { Notify } from './security-notices.ts';
import type { SecretBox } from '../../shared/encryption.ts';
import { randomBase62, sha256 } from '../../shared/secrets.ts';
import type { TwoFactorRepo } from './two-factor.repo.ts';
import type { Provenance } from '../../domain/audit.ts';
import type { Audit } from '../audit/audit.ts';

const PERIOD = 30;
const RECOVERY_CODES = 10;
const BASE32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O, 1/I: codes people type

function totpFor(secretBase32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: 'Latchkey',
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
  });
}

/** 16 characters from a 32-letter alphabet (80 bits), grouped `XXXX-XXXX-XXXX-XXXX`. */
function newRecoveryCode(): string {
  let raw = '';
  while (raw.length < 16) {
    for (const ch of randomBase62(32)) {
      const i = BASE32.indexOf(ch.toUpperCase());
      if (i >= 0 && raw.length < 16) raw += BASE32[i];
    }
  }
  return raw.match(/.{4}/g)!.join('-');
}

/** The two kinds of code the second factor accepts. */
export type SecondFactorMethod = 'totp' | 'recovery_code';

/** What a presented code looks like (six digits: an authenticator's), for recording a wrong one. */
export const codeMethodOf = (code: string): SecondFactorMethod =>
  /^\d{6}$/.test(code.trim()) ? 'totp' : 'recovery_code';

const normaliseRecovery = (code: string) => code.toUpperCase().replace(/[^A-Z0-9]/g, '');

/** What the enrollment page shows: the secret as text, its otpauth URI and that URI as a QR code (SVG). */
export interface Enrollment {
  secret: string;
  uri: string;
  qrSvg: string;
}

/**
 * The QR code library (with its PNG encoder) is imported with the first enrollment, not at start:
 * enrolling is rare, and a server that never shows the page keeps its ~150 KB of JavaScript out of
 * the heap. After the first import the module is cached, so later enrollments pay nothing more.
 */
async function enrollmentOf(secret: string, label: string): Promise<Enrollment> {
  const uri = totpFor(secret, label).toString();
  const { default: QRCode } = await import('qrcode');
  return { secret, uri, qrSvg: await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }) };
}

/**
 * TOTP second factor (RFC 6238, 6 digits, 30 s, one step of clock drift either way). A code is
 * accepted once: its time step must be later than the last accepted one. Ten single-use recovery
 * codes are shown once and kept as SHA-256.
 */
export function createTwoFactorService(deps: {
  repo: TwoFactorRepo;
  box: SecretBox;
  now(): number;
  /** Tells the owner by email when the second factor is turned on or off. */
  notify?: Notify;
  /** Records the second factor turned on and off, written with the change. */
  audit: Audit;
}) {
  const { repo, box, now, audit } = deps;
  const turned = (type: 'two_factor.enabled' | 'two_factor.disabled', userId: string, by: Provenance) =>
    audit.event(type, { account: userId, target: { type: 'account', id: userId }, data: { method: 'totp' } }, by);

  /** The time step a code matches (within ±1 step), or null. */
  function matchingStep(secretBase32: string, code: string): number | null {
    if (!/^\d{6}$/.test(code)) return null;
    const t = now();
    const delta = totpFor(secretBase32, 'x').validate({ token: code, timestamp: t, window: 1 });
    return delta === null ? null : Math.floor(t / 1000 / PERIOD) + delta;
  }

  return {
    async status(userId: string): Promise<{ enabled: boolean; recoveryCodesLeft: number }> {
      const s = await repo.state(userId);
      return {
        enabled: Boolean(s?.totp_secret_enc),
        recoveryCodesLeft: s?.totp_secret_enc ? await repo.unusedRecoveryCodes(userId) : 0,
      };
    },

    /** Starts enrollment: a fresh secret as text, otpauth URI and QR code (SVG). */
    async begin(userId: string, label: string): Promise<Enrollment> {
      // Re-enrolling would replace the secret and the recovery codes: it is turned off first (with a code).
      if ((await repo.state(userId))?.totp_secret_enc) {
        throw new Conflict('Two-factor authentication is already on. To move it to a new device, turn it off first.');
      }
      const secret = new OTPAuth.Secret({ size: 20 }).base32;
      await repo.setPending(userId, box.seal(secret));
      return enrollmentOf(secret, label);
    },

    /**
     * The enrollment under way (the pending secret, still sealed at rest), shown again after a
     * wrong first code: the person retries with the QR code already in their app. Null when none.
     */
    async pending(userId: string, label: string): Promise<Enrollment | null> {
      const s = await repo.state(userId);
      if (s?.totp_secret_enc || !s?.totp_pending_secret_enc) return null;
      return enrollmentOf(box.open(s.totp_pending_secret_enc), label);
    },

    /**
     * The recovery codes just issued, sealed (AES-GCM) for the one browser session showing them,
     * until `until`: the page can be reloaded and the codes downloaded while they are on screen,
     * and nothing readable leaves the server. `bind` names that session.
     */
    sealShownCodes(bind: string, codes: string[], until: number): string {
      return box.seal(JSON.stringify({ b: bind, e: until, c: codes }));
    },

    /** The codes sealed by `sealShownCodes` for this `bind`, or null when expired, foreign or damaged. */
    openShownCodes(bind: string, sealed: string): string[] | null {
      try {
        const { b, e, c } = JSON.parse(box.open(sealed)) as { b: unknown; e: unknown; c: unknown };
        const fresh = b === bind && typeof e === 'number' && e > now();
        return fresh && Array.isArray(c) && c.every((x) => typeof x === 'string') ? c : null;
      } catch {
        return null;
      }
    },

    /** Confirms enrollment with a first code; returns the recovery codes (shown once). */
    async confirm(userId: string, code: string, by: Provenance): Promise<string[]> {
      const s = await repo.state(userId);
      // Never over an active secret: that would swap the second factor without a current code.
      if (s?.totp_secret_enc) throw new Conflict('Two-factor authentication is already on.');
      if (!s?.totp_pending_secret_enc) throw new Conflict('Start setting up two-factor authentication first');
      const step = matchingStep(box.open(s.totp_pending_secret_enc), code.trim());
      if (step === null)
        throw new ValidationError('That code is not right. Check the time on your device and try again.', 'code');
      const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
      await repo.enable(
        userId,
        s.totp_pending_secret_enc,
        step,
        codes.map((c) => sha256(normaliseRecovery(c))),
        now(),
        [turned('two_factor.enabled', userId, by)],
      );
      await deps.notify?.(userId, { kind: 'two_factor_enabled' });
      return codes;
    },

    /** A TOTP code (once per time step) or an unused recovery code: which one it was, or null. */
    async verify(userId: string, input: string): Promise<SecondFactorMethod | null> {
      const s = await repo.state(userId);
      if (!s?.totp_secret_enc) return null;
      const code = input.trim();
      const step = matchingStep(box.open(s.totp_secret_enc), code);
      if (step !== null) return (await repo.advanceStep(userId, step)) ? 'totp' : null;
      const recovery = normaliseRecovery(code);
      if (recovery.length !== 16) return null;
      return (await repo.useRecoveryCode(userId, sha256(recovery), now())) ? 'recovery_code' : null;
    },

    async disable(userId: string, by: Provenance): Promise<void> {
      await repo.disable(userId, now(), [turned('two_factor.disabled', userId, by)]);
      await deps.notify?.(userId, { kind: 'two_factor_disabled' });
    },
  };
}
export type TwoFactorService = ReturnType<typeof createTwoFactorService>;
