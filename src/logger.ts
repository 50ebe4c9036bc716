import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. Anything that could carry a secret is redacted by path, as defence in depth:
 * handlers never log bodies or headers in the first place.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.client_secret', '*.token', '*.refresh_token', '*.access_token'],
      censor: '[redacted]',
    },
  });
}
