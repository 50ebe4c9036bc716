import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Anything that could carry a secret, redacted by path as defence in depth: nothing logs bodies,
 * headers or query strings in the first place (the access log writes method, path, status and
 * duration only; see http/access-log.ts).
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'authorization',
  'cookie',
  'password',
  'client_secret',
  'token',
  'refresh_token',
  'access_token',
  'secret',
  'key',
  '*.password',
  '*.client_secret',
  '*.token',
  '*.refresh_token',
  '*.access_token',
  '*.secret',
  '*.key',
  // EMAIL_URL carries the SMTP password; it is only ever logged masked (features/email).
  'EMAIL_URL',
  '*.EMAIL_URL',
];

/**
 * JSON logs, one object a line, on stdout (or `destination`, which tests pass to read them).
 * Request log lines carry `reqId` (see http/request-id.ts).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
