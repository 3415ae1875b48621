/**
 * argv → one bounded, redacted string for events and logs.
 *
 * Redacted (replaced by [REDACTED]):
 * - the value after a secret-looking flag (`--password x`, `--token=x`, `--aws-secret-access-key x`,
 *   `-p x` / `-pSECRET` as mysql uses it, `-u user:pass` / `--user user:pass` as curl uses it);
 * - the value of `KEY=VALUE` when KEY looks secret (`AWS_SECRET_ACCESS_KEY=…`, `db_password=…`);
 * - header-style `Name: value` arguments whose name looks secret (`-H "X-aws-ec2-metadata-token: …"`);
 * - anything that looks like a credential: AWS access key ids (AKIA…/ASIA…), long hex, long
 *   mixed-case base64-like runs (IMDS tokens, session tokens, JWTs).
 * Then each argument is cut to `maxArgLength` and the whole to `maxLength` characters.
 */
export const REDACTED = '[REDACTED]';

export interface RedactLimits {
  maxLength: number;
  maxArgLength: number;
  maxArgs: number;
}

export const DEFAULT_REDACT_LIMITS: RedactLimits = { maxLength: 1024, maxArgLength: 256, maxArgs: 64 };

const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth|session[-_]?key|cookie|^pwd$|signature)/i;
/** flags whose next argument (or attached value) is a secret */
const SECRET_FLAG = /^--?[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SHORT_SECRET_FLAGS = new Set(['-p', '-u', '--user', '--proxy-user', '-U', '--pass']);

const AWS_KEY_ID = /\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AGPA)[A-Z0-9]{16}\b/g;
const LONG_RUN = /[A-Za-z0-9+/_=.-]{24,}/g;

function looksLikeSecretRun(run: string): boolean {
  const core = run.replace(/^[./]+|[.=]+$/g, '');
  if (/^[0-9a-fA-F]{32,}$/.test(core)) return true;
  // JWT: three base64url parts
  if (/^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$/.test(core)) return true;
  // a file path or dotted name is not a token
  if (/^(\/|\.\.?\/|~)/.test(run) && !/[+=]/.test(core)) return false;
  if (core.length < 24) return false;
  const hasUpper = /[A-Z]/.test(core);
  const hasLower = /[a-z]/.test(core);
  const hasDigit = /[0-9]/.test(core);
  if (core.length >= 40 && hasUpper && hasLower) return true;
  return hasUpper && hasLower && hasDigit && !/[.]/.test(core);
}

/** Redact credential-looking substrings of one argument. */
export function redactValueLike(arg: string): string {
  let out = arg.replace(AWS_KEY_ID, REDACTED);
  out = out.replace(LONG_RUN, (run) => (looksLikeSecretRun(run) ? REDACTED : run));
  return out;
}

type Next = false | 'always' | 'unless-flag-or-url';

function redactOne(arg: string): { text: string; nextIsSecret: Next } {
  // --flag=value
  const eq = arg.indexOf('=');
  if (arg.startsWith('-') && eq > 0) {
    const flag = arg.slice(0, eq);
    if (SECRET_FLAG.test(flag) && (SECRET_NAME.test(flag) || SHORT_SECRET_FLAGS.has(flag))) {
      return { text: `${flag}=${REDACTED}`, nextIsSecret: false };
    }
  }
  if (arg.startsWith('--') && SECRET_FLAG.test(arg) && SECRET_NAME.test(arg)) return { text: arg, nextIsSecret: 'always' };
  // short flags are ambiguous (-p is a port for ssh, a flag without value for curl)
  if (SHORT_SECRET_FLAGS.has(arg)) return { text: arg, nextIsSecret: 'unless-flag-or-url' };
  // mysql style -pSECRET
  if (/^-p\S+$/.test(arg) && !arg.startsWith('--')) return { text: `-p${REDACTED}`, nextIsSecret: false };
  // KEY=VALUE with a secret-looking key
  const kv = /^([A-Za-z_][A-Za-z0-9_.-]*)=/.exec(arg);
  if (kv && SECRET_NAME.test(kv[1]!)) return { text: `${kv[1]}=${REDACTED}`, nextIsSecret: false };
  // header style "Name: value"
  const hdr = /^([A-Za-z0-9-]+):\s*(.*)$/s.exec(arg);
  if (hdr && hdr[2] && SECRET_NAME.test(hdr[1]!)) return { text: `${hdr[1]}: ${REDACTED}`, nextIsSecret: false };
  return { text: redactValueLike(arg), nextIsSecret: false };
}

export function redactArgv(argv: readonly string[], limits: RedactLimits = DEFAULT_REDACT_LIMITS): string {
  const parts: string[] = [];
  let nextSecret: Next = false;
  const n = Math.min(argv.length, limits.maxArgs);
  for (let i = 0; i < n; i++) {
    const arg = argv[i]!;
    let text: string;
    const skip = nextSecret === 'unless-flag-or-url' && ((arg.startsWith('-') && arg.length > 1) || arg.includes('://'));
    if (nextSecret && !skip) {
      text = REDACTED;
      nextSecret = false;
    } else {
      const r = redactOne(arg);
      text = r.text;
      nextSecret = r.nextIsSecret;
    }
    if (text.length > limits.maxArgLength) text = `${text.slice(0, limits.maxArgLength)}…`;
    parts.push(text);
  }
  let out = parts.join(' ');
  if (argv.length > n) out += ' …';
  if (out.length > limits.maxLength) out = `${out.slice(0, limits.maxLength)}…`;
  return out;
}

/** /proc/PID/cmdline (NUL-separated, NUL-terminated) → argv. */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split('\0');
  if (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
